"""Attempt detection costs what the CRM's activity costs, not what the backlog does: the
calls of one SLA scan stay the same (within one) when the open leads grow from 100 to
10,000 with the same activity. Requests are counted at the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from connectors.base import TaskRequest
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from state import LeadStatus, OutboxKind
from state.outbox_payloads import outbox_key
from state.tables import LeadRow
from sync.context import Context
from sync.sla_scan import detect_attempts
from tests.pipeline.conftest import COORDINATORS


class HubSpotSide:
    """Seeding and a coordinator's moves in the HubSpot sandbox."""

    crm = "hubspot"

    def __init__(self, box: HubSpotSandbox) -> None:
        self.box = box
        self.handle_of = {owner: handle for handle, (owner, _) in COORDINATORS.items()}

    def seed_owned(self, count: int, seed: int, between: tuple[datetime, datetime]
                   ) -> list[tuple[str, str]]:
        ids = self.box.seed_contacts(count, owned_fraction=1.0, rng_seed=seed,
                                     created_between=between)
        return [(cid, self.box.contact(cid)["properties"]["hubspot_owner_id"]) for cid in ids]

    def calls(self) -> int:
        return int(self.box.counters()["total_calls"])

    def call(self, cid: str) -> None:
        self.box.log_call(cid)

    def move_status(self, cid: str) -> None:
        self.box.set_lead_status(cid, "ATTEMPTED_TO_CONTACT")

    def complete(self, task_id: str) -> None:
        self.box.complete_task(task_id)

    def take_back(self, cid: str) -> None:
        self.box.set_owner_by_hand(cid, "1090")  # to the queue: a person took it back

    def lag(self) -> None:
        self.box.index_lag = 60.0  # search shows no change during the test


class SalesforceSide:
    crm = "salesforce"

    def __init__(self, box: SalesforceSandbox) -> None:
        self.box = box
        self.handle_of = {user: handle for handle, user in box.coordinator_ids.items()}

    def seed_owned(self, count: int, seed: int, between: tuple[datetime, datetime]
                   ) -> list[tuple[str, str]]:
        ids = self.box.seed_leads(count, owned_fraction=1.0, rng_seed=seed,
                                  created_between=between)
        return [(cid, str(self.box.get(cid)["OwnerId"])) for cid in ids]

    def calls(self) -> int:
        return int(self.box.api_calls)

    def call(self, cid: str) -> None:
        self.box.log_call(cid, by=str(self.box.get(cid)["OwnerId"]))

    def move_status(self, cid: str) -> None:
        self.box.set_lead_status(cid, "Working - Contacted")

    def complete(self, task_id: str) -> None:
        self.box.complete_task(task_id)

    def take_back(self, cid: str) -> None:
        self.box.set_owner(cid, self.box.admissions_inbox_id)

    def lag(self) -> None:
        pass  # SOQL reads the database: nothing trails


Side = HubSpotSide | SalesforceSide


@pytest.fixture(params=["hubspot", "salesforce"])
def side(request: pytest.FixtureRequest) -> tuple[Side, Context]:
    if request.param == "hubspot":
        box = request.getfixturevalue("box")
        return HubSpotSide(box), request.getfixturevalue("make_context")()
    sf_box = request.getfixturevalue("sf_box")
    return SalesforceSide(sf_box), request.getfixturevalue("make_sf_context")()


def _open_leads(side: Side, ctx: Context, count: int, seed: int) -> list[str]:
    """`count` records a coordinator owns in the CRM (created hours ago, untouched since),
    recorded in the store in bulk as routed to that coordinator a minute ago, task created,
    due in two hours: what a drained backlog leaves behind."""
    now = datetime.now(UTC)
    owned = side.seed_owned(count, seed, (now - timedelta(hours=3), now - timedelta(hours=2)))
    rows: list[dict[str, Any]] = [
        {"crm": side.crm, "crm_id": cid, "created_at": now - timedelta(hours=2),
         "first_seen_at": now - timedelta(minutes=2), "attributes": {},
         "status": LeadStatus.TASK_CREATED.value, "owner": side.handle_of[owner],
         "crm_owner_id": owner, "assignment": 1, "rule": "commercial",
         "assigned_at": now - timedelta(minutes=1),
         "owner_written_at": now - timedelta(minutes=1),
         "sla_due": now + timedelta(hours=2), "updated_at": now,
         "excluded": [], "reassignments": 0}
        for cid, owner in owned]
    with ctx.store.unit_of_work() as uow:
        uow.session.execute(insert(LeadRow), rows)
        uow.commit()
    return [cid for cid, _ in owned]


def _routing_tasks(side: Side, ctx: Context, ids: list[str]) -> dict[str, str]:
    """Routing tasks for these leads, created through the API and recorded in the outbox."""
    due = datetime.now(UTC) + timedelta(hours=2)
    with ctx.store.unit_of_work(read_only=True) as uow:
        owners = {cid: uow.leads.get(side.crm, cid).crm_owner_id for cid in ids}  # type: ignore[union-attr]
    requests = [TaskRequest(outbox_key(cid, 1, OutboxKind.TASK), cid, str(owners[cid]),
                            "Call", due, "MEDIUM") for cid in ids]
    created = {r.key: r.task_id for r in ctx.connector.create_tasks(requests,
                                                                   check_existing=False)}
    now = datetime.now(UTC)
    with ctx.store.unit_of_work() as uow:
        for request in requests:
            uow.outbox.enqueue(request.key, side.crm, request.crm_id, OutboxKind.TASK, {},
                               now=now)
        uow.commit()
    with ctx.store.unit_of_work() as uow:
        for row in uow.outbox.claim(len(requests), now, kind=OutboxKind.TASK):
            uow.outbox.mark_done(row.id, created[row.key], now=now)
        uow.commit()
    return {r.crm_id: str(created[r.key]) for r in requests}


def _activity(side: Side, leads: list[str], tasks: dict[str, str]) -> set[str]:
    """The same activity every time: four calls logged, two lead statuses moved, two routing
    tasks completed, one owner changed by a person. Returns the leads contacted."""
    called, moved, done = leads[:4], leads[4:6], leads[6:8]
    for cid in called:
        side.call(cid)
    for cid in moved:
        side.move_status(cid)
    for cid in done:
        side.complete(tasks[cid])
    side.take_back(leads[8])
    return {*called, *moved, *done}


def _scan(side: Side, ctx: Context) -> tuple[int, int, int]:
    """(calls the sandbox counted, leads found contacted, overrides) for one SLA scan."""
    before = side.calls()
    figures = detect_attempts(ctx)
    return side.calls() - before, figures.contacted, figures.overridden


def _contacted(ctx: Context) -> set[str]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return {row.crm_id for row in uow.leads.by_status(LeadStatus.CONTACTED)}


def test_calls_per_scan_stay_flat_from_100_to_10000_open_leads(
        side: tuple[Side, Context]) -> None:
    crm, ctx = side
    small = _open_leads(crm, ctx, 100, seed=61)
    tasks = _routing_tasks(crm, ctx, small[:20])
    assert _scan(crm, ctx)[1:] == (0, 0)  # nothing happened yet (and the watermark is set)

    expected = _activity(crm, small[:9], tasks)
    calls_small, contacted, overridden = _scan(crm, ctx)
    assert (contacted, overridden) == (8, 1)
    assert _contacted(ctx) == expected

    large = small + _open_leads(crm, ctx, 9_900, seed=62)
    expected |= _activity(crm, small[10:19], tasks)
    calls_large, contacted, overridden = _scan(crm, ctx)
    assert (contacted, overridden) == (8, 1)
    assert _contacted(ctx) == expected
    assert abs(calls_large - calls_small) <= 1, (calls_small, calls_large)
    assert calls_large <= 3  # a search or two (one Composite call), not a read per 100 leads
    assert len(large) == 10_000


def test_a_lead_near_its_deadline_is_read_directly(side: tuple[Side, Context]) -> None:
    """Search trails the CRM: before its deadline passes, a lead is read directly, so a
    call search has not caught up with yet still counts."""
    crm, ctx = side
    near, far = _open_leads(crm, ctx, 2, seed=63)
    soon = datetime.now(UTC) + timedelta(seconds=20)  # before the next scan (1 minute)
    with ctx.store.unit_of_work() as uow:
        uow.session.execute(LeadRow.__table__.update().where(LeadRow.crm_id == near)
                            .values(sla_due=soon))
        uow.commit()
    assert _scan(crm, ctx)[1:] == (0, 0)
    crm.lag()
    crm.call(near)
    calls, contacted, _ = _scan(crm, ctx)
    assert contacted == 1 and _contacted(ctx) == {near}
    assert calls <= 3  # the activity search(es) and one read of the lead near its deadline
    crm.call(far)
    if isinstance(crm, HubSpotSide):  # the far one waits until search shows its call
        assert _scan(crm, ctx)[1] == 0 and _contacted(ctx) == {near}
