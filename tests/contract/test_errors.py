"""One error taxonomy: auth needs a person, storms are retried (bounded), limits stop."""

from __future__ import annotations

import pytest

from connectors.base import AuthError, RetriableError
from connectors.retry import RetryPolicy
from sandbox._server import Faults
from tests.contract.adapters import Crm
from tests.contract.conftest import Sleeps


def test_a_bad_token_is_an_auth_error_without_retries(crm: Crm, sleeps: Sleeps) -> None:
    connector = crm.connector(token="not-the-token", sleep=sleeps)
    with pytest.raises(AuthError) as info:
        connector.owners()
    assert info.value.status == 401
    assert "not-the-token" not in str(info.value)
    assert sleeps.waits == []


def test_a_5xx_storm_is_retried_a_bounded_number_of_times(crm: Crm, sleeps: Sleeps) -> None:
    connector = crm.connector(retry=RetryPolicy(attempts=4, initial=0.5, sleep=sleeps),
                              sleep=sleeps)
    crm.box.clear_log()
    crm.set_faults(Faults(error_rate=1.0, seed=3))
    with pytest.raises(RetriableError) as info:
        connector.fetch(crm.seed(2, rng_seed=41))
    crm.set_faults(Faults())
    assert info.value.status in (500, 502, 503)
    assert len(sleeps.waits) == 3 and all(w > 0 for w in sleeps.waits)
    assert crm.logged("", "", 4) >= 4


def test_the_storm_passes_and_the_call_succeeds(crm: Crm) -> None:
    ids = crm.seed(3, rng_seed=42)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the outage ends during the second back-off
        waits.append(seconds)
        if len(waits) == 2:
            crm.set_faults(Faults())

    connector = crm.connector(retry=RetryPolicy(attempts=6, sleep=sleep), sleep=sleep)
    crm.set_faults(Faults(error_rate=1.0, seed=7))
    found = connector.fetch(ids)
    assert {lead.crm_id for lead in found} == set(ids)
    assert len(waits) == 2


def test_an_exhausted_daily_limit_stops_for_a_person(crm: Crm, sleeps: Sleeps) -> None:
    ids = crm.seed(2, rng_seed=43)
    connector = crm.connector(retry=RetryPolicy(attempts=3, sleep=sleeps), sleep=sleeps,
                              clock=sleeps.clock)
    connector.fetch(ids)
    crm.exhaust_limit()
    with pytest.raises(AuthError) as info:
        connector.fetch(ids)
    assert info.value.status in (403, 429)
    assert sleeps.waits == []  # the budget is spent: stop, don't spin


def test_a_rate_limit_is_retried_after_its_window_then_reported(rate_limited_crm: Crm,
                                                                 sleeps: Sleeps) -> None:
    crm = rate_limited_crm
    assert crm.throttle()
    connector = crm.connector(retry=RetryPolicy(attempts=3, sleep=sleeps), sleep=sleeps,
                              clock=sleeps.clock)
    ids = crm.seed(2, rng_seed=44)
    with pytest.raises(RetriableError) as info:
        for _ in range(3):
            connector.fetch(ids)
    assert info.value.status == 429
    assert len(sleeps.waits) >= 2 and max(sleeps.waits) >= 1.0  # honoured Retry-After
