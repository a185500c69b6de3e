"""The `crm` fixture: each contract test runs once per connector, against its sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from tests.contract.adapters import Crm, HubSpotCrm, SalesforceCrm

CRMS = ("hubspot", "salesforce", "salesforce-contact")


def _open(kind: str) -> Iterator[Crm]:
    if kind == "hubspot":
        with HubSpotSandbox() as hub:
            yield HubSpotCrm(hub)
        return
    sobject = "Contact" if kind.endswith("contact") else "Lead"
    with SalesforceSandbox() as box:
        yield SalesforceCrm(box, sobject)
        # the emulator answers its own crash with a 500: no contract test expects one
        assert [type(e).__name__ for e in box.server.app_errors] == []


@pytest.fixture(params=CRMS)
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    yield from _open(request.param)


# Only HubSpot limits requests per time window with a 429 (Salesforce's limits are a daily
# total and concurrency, covered by the budget tests), so this contract applies to it alone.
@pytest.fixture(params=["hubspot"])
def rate_limited_crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    yield from _open(request.param)


class Sleeps:
    """An injected `sleep` that records the waits instead of waiting, and the matching
    `clock` (real start plus the waits) so client-side limiters see time pass."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.start = time.monotonic()

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def clock(self) -> float:
        return self.start + sum(self.waits)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
