"""The compare before an owner write may use the owner the poll read seconds ago; an older
read is repeated, so a person's change still wins."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from connectors.base import Connector, OwnerWrite, WriteOutcome
from sandbox.salesforce import SalesforceSandbox
from tests.contract.adapters import Crm, SalesforceCrm


def _poll_all(connector: Connector) -> None:
    page = connector.poll(None, datetime.now(UTC) - timedelta(hours=24), 500)
    assert not page.more


def test_an_owner_the_poll_just_read_is_not_read_again_before_the_write(crm: Crm) -> None:
    ids = crm.seed(5, rng_seed=51)
    connector = crm.connector()
    _poll_all(connector)
    owner = crm.people[0]
    before = crm.server_calls()
    results = connector.write_owners([OwnerWrite(i, owner, frozenset({None, crm.placeholder}))
                                      for i in ids])
    assert crm.server_calls() - before == 1  # the batch write alone
    assert {r.outcome for r in results} == {WriteOutcome.WRITTEN}
    assert all(crm.owner_now(i) == owner for i in ids)
    connector.close()


def test_a_read_older_than_the_limit_is_repeated_and_a_persons_change_wins(crm: Crm) -> None:
    taken, free = crm.seed(2, rng_seed=52)
    connector = crm.connector()
    connector.recent_owners.max_age = 0.3  # type: ignore[attr-defined]
    _poll_all(connector)
    crm.set_owner_by_hand(taken, crm.people[1])  # after the poll read it as unowned
    time.sleep(0.4)
    owner = crm.people[0]
    before = crm.server_calls()
    results = {r.crm_id: r for r in connector.write_owners(
        [OwnerWrite(i, owner, frozenset({None, crm.placeholder})) for i in (taken, free)])}
    assert crm.server_calls() - before == 2  # read again, then write
    assert results[taken].outcome is WriteOutcome.OVERRIDDEN
    assert crm.owner_now(taken) == crm.people[1]
    assert results[free].outcome is WriteOutcome.WRITTEN and crm.owner_now(free) == owner
    connector.close()


def test_salesforce_compares_a_thousand_owners_with_one_read() -> None:
    """Owner writes come 1,000 at a time (`owner_batch_size`): one Composite call reads
    their owners (five queries of 200), then five collections write them."""
    with SalesforceSandbox() as box:
        sf = SalesforceCrm(box)
        ids = sf.seed(1_000, rng_seed=53)
        connector = sf.connector()
        assert getattr(connector, "owner_batch_size", None) == 1_000
        taken = ids[10]
        sf.set_owner_by_hand(taken, sf.people[1])
        owner = sf.people[0]
        before = box.api_calls
        results = {r.crm_id: r for r in connector.write_owners(
            [OwnerWrite(i, owner, frozenset({None, sf.placeholder})) for i in ids])}
        assert box.api_calls - before == 1 + 5  # nothing read by a poll: one read, 5 writes
        assert results[taken].outcome is WriteOutcome.OVERRIDDEN
        assert sum(r.outcome is WriteOutcome.WRITTEN for r in results.values()) == 999
        connector.close()
