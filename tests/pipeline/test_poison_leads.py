"""No lead can stop routing or leak into the store: poison values, free text, bad records.

Real parts only: the HubSpot sandbox over HTTPS, the real connector, real SQLite files and a
real PostgreSQL server. Where a failure needs a record no CRM would send, a connector is
faked at its port (`connectors.base.Connector`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import col, delete
from structlog.testing import capture_logs

from connectors.base import (
    AttemptQuery,
    AttemptState,
    CrmLead,
    CrmOwner,
    OwnerWrite,
    OwnerWriteResult,
    PollPage,
    TaskRequest,
    TaskResult,
    WriteOutcome,
)
from sandbox.hubspot import HubSpotSandbox
from state import AuditKind
from state.tables import CursorRow
from sync.context import Context
from sync.cycle import run_cycle
from sync.explain import explain
from sync.service.metrics import Metrics
from sync.service.worker import Job, Worker
from sync.vocabulary import OTHER
from tests.pipeline.conftest import hubspot_context, lead_rows

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}
FREE_TEXT = "Jane Roe jane.roe@example.org 555-0100"
POISON = {"long": "x" * 300, "nul": "commercial\x00; drop", "huge": "y" * 100_000}


@pytest.fixture
def hub_context(box: HubSpotSandbox, tmp_path: Path, state_url: str
                ) -> Iterator[Callable[[], Context]]:
    made: list[Context] = []

    def factory() -> Context:
        ctx = hubspot_context(box, state_url)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def _stored_text(ctx: Context) -> str:
    """Everything the store holds about leads, as one string to search."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        leads = [(r.crm_id, r.attributes, r.rule, r.status) for r in uow.leads.by_status()]
        trails = [(r.kind, r.detail) for lead in leads
                  for r in uow.audit.for_lead(ctx.crm, lead[0])]
    return json.dumps([leads, trails], default=str)


def _explained(ctx: Context, crm_id: str) -> str:
    out = io.StringIO()
    assert explain(ctx.store, ctx.crm, crm_id, Console(file=out, width=200))
    return out.getvalue()


def test_poison_values_by_polling_neither_block_nor_reach_the_store(
        box: HubSpotSandbox, hub_context: Callable[[], Context]) -> None:
    now = datetime.now(UTC)
    normal = [box.create_contact(dict(PROPS), created_at=now - timedelta(minutes=30 - i))
              for i in range(20)]
    # poison first: under the old code the first bad value failed its whole page
    poison = {name: box.create_contact({**PROPS, "insurance_type": value,
                                        "hs_analytics_source": value},
                                       created_at=now - timedelta(minutes=40))
              for name, value in POISON.items()}
    ctx = hub_context()
    result = run_cycle(ctx)
    assert result.failed_steps == []
    rows = lead_rows(ctx)
    for cid in normal:
        assert rows[cid].status == "task_created", cid
        assert len(box.tasks_for(cid)) == 1
    for cid in poison.values():
        # still a lead to route: its unusable values are kept as OTHER, never verbatim
        assert rows[cid].attributes["insurance"] == OTHER
        assert rows[cid].attributes["source"] == OTHER
        assert rows[cid].rule == "everyone" and rows[cid].status == "task_created"
    stored = _stored_text(ctx)
    assert "xxxxxxxxxx" not in stored and "yyyyyyyyyy" not in stored and "drop" not in stored


def test_free_text_in_a_routing_attribute_is_never_stored_nor_explained(
        box: HubSpotSandbox, hub_context: Callable[[], Context]) -> None:
    cid = box.create_contact({**PROPS, "insurance_type": FREE_TEXT, "state": FREE_TEXT,
                              "zip": FREE_TEXT, "hs_analytics_source": FREE_TEXT})
    listed = box.create_contact({**PROPS, "insurance_type": " PPO ", "zip": "85004-1234"})
    ctx = hub_context()
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert rows[cid].attributes == {"insurance": OTHER, "state": OTHER, "zip": OTHER,
                                    "source": OTHER, "level_of_care": OTHER}
    # values a rule lists are kept (normalised), so routing is unchanged
    assert rows[listed].attributes["insurance"] == "ppo"
    assert rows[listed].attributes["zip"] == "85004"
    assert rows[listed].attributes["source"] == "paid_search"
    assert rows[listed].rule == "commercial"
    text = _stored_text(ctx) + _explained(ctx, cid)
    for piece in ("Jane", "jane.roe", "example.org", "555-0100"):
        assert piece not in text


@dataclass
class PortConnector:
    """A CRM at the port: serves the leads it is given and accepts every write."""

    pages: list[list[CrmLead]]
    fetchable: dict[str, CrmLead] = field(default_factory=dict)
    polls: int = 0
    fail_poll: bool = False
    kind: str = "hubspot"

    def owners(self) -> Sequence[CrmOwner]:
        return [CrmOwner(str(1001 + i), None, True) for i in range(9)]

    def poll(self, cursor: str | None, since: datetime, limit: int) -> PollPage:
        self.polls += 1
        if self.fail_poll:
            raise RuntimeError("a connector bug")
        page = self.pages.pop(0) if self.pages else []
        return PollPage(page, str(int(cursor or 0) + len(page)), more=bool(self.pages))

    def fetch(self, crm_ids: Sequence[str]) -> Sequence[CrmLead]:
        return [self.fetchable[i] for i in crm_ids if i in self.fetchable]

    def write_owners(self, writes: Sequence[OwnerWrite]) -> Sequence[OwnerWriteResult]:
        return [OwnerWriteResult(w.crm_id, WriteOutcome.WRITTEN, None) for w in writes]

    def create_tasks(self, tasks: Sequence[TaskRequest], *, check_existing: bool
                     ) -> Sequence[TaskResult]:
        return [TaskResult(t.key, f"task-{t.key}", None) for t in tasks]

    def contact_attempts(self, queries: Sequence[AttemptQuery]) -> Sequence[AttemptState]:
        return []

    def placeholder_owner_ids(self) -> frozenset[str]:
        return frozenset()

    def eligibility_properties(self) -> frozenset[str]:
        return frozenset()

    def metadata_properties(self) -> dict[str, str]:
        return {}

    def record_link(self, crm_id: str) -> str:
        return f"https://crm.invalid/record/{crm_id}"

    def webhook_source(self, environ: object, *, terminates_tls: bool) -> None:
        return None

    def close(self) -> None:
        pass


def _lead(crm_id: str, **attributes: str) -> CrmLead:
    return CrmLead(crm_id, datetime.now(UTC) - timedelta(minutes=5), None, True,
                   {"insurance": "commercial", **attributes})


@pytest.fixture
def port_context(box: HubSpotSandbox, state_url: str) -> Iterator[Callable[..., Context]]:
    """The real pipeline and store with a connector plugged in at the port, and the webhook
    hints (record ids, as `/webhooks/*` stores them) already in the inbox."""
    made: list[Context] = []

    def factory(connector: PortConnector, hints: Sequence[str] = ()) -> Context:
        ctx = hubspot_context(box, state_url)
        made.append(ctx)
        ctx.connector.close()
        ctx.connector = connector
        with ctx.store.unit_of_work() as uow:
            for cid in hints:
                uow.inbox.add("hubspot", f"test:{cid}", cid, "contact.creation")
            uow.commit()
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def _trail_kinds(ctx: Context, crm_id: str) -> list[str]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return [row.kind for row in uow.audit.for_lead(ctx.crm, crm_id)]


def test_a_record_that_cannot_be_recorded_is_set_aside_and_its_page_and_cursor_commit(
        port_context: Callable[..., Context]) -> None:
    # a connector plugin bug (no attribute map) and an id longer than any CRM makes
    # (PostgreSQL refuses it) in the middle of a page and of a webhook batch
    broken = CrmLead("7001", datetime.now(UTC) - timedelta(minutes=5), None, True,
                     None)  # type: ignore[arg-type]
    overlong = _lead("9" * 80)
    connector = PortConnector([[_lead("7000"), broken, overlong, _lead("7002")]],
                              fetchable={"7003": _lead("7003"), "7004": CrmLead(
                                  "7004", broken.created_at, None, True,
                                  None)})  # type: ignore[arg-type]
    ctx = port_context(connector, hints=["7003", "7004"])
    result = run_cycle(ctx)
    assert result.failed_steps == []
    rows = lead_rows(ctx)
    for cid in ("7000", "7002", "7003"):
        assert rows[cid].status == "task_created", cid
    for cid in ("7001", "7004"):
        assert rows[cid].status == "set_aside"
        assert rows[cid].attributes == {}
        assert AuditKind.SET_ASIDE.value in _trail_kinds(ctx, cid)
        assert "could not be recorded (AttributeError)" in _explained(ctx, cid)
    assert result.ingest.set_aside == 2 + (ctx.store.dialect == "postgresql")
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.cursors.get("hubspot:poll") == "4"  # the page committed with its cursor
        assert uow.inbox.backlog() == 0  # the webhook batch was marked processed


def test_a_crashing_step_never_skips_the_steps_after_it(
        port_context: Callable[..., Context]) -> None:
    connector = PortConnector([], fetchable={"7100": _lead("7100")}, fail_poll=True)
    ctx = port_context(connector, hints=["7100"])
    result = run_cycle(ctx)
    assert result.failed_steps == ["poll"]
    assert lead_rows(ctx)["7100"].status == "task_created"  # inbox, route, apply ran


def test_the_service_worker_runs_every_phase_after_one_crashes(
        port_context: Callable[..., Context]) -> None:
    connector = PortConnector([], fetchable={"7200": _lead("7200")}, fail_poll=True)
    ctx = port_context(connector, hints=["7200"])
    worker = Worker(ctx, Metrics(ctx.crm))
    with capture_logs() as logs:
        tally = worker.run({Job.POLL, Job.SLA})
    assert tally.failed == ["poll"]
    assert tally.routing.routed == 1 and tally.apply.tasks_created == 1
    crashed = [e for e in logs if e["event"] == "job.crashed"]
    assert crashed == [{"event": "job.crashed", "job": "poll", "error_type": "RuntimeError",
                        "log_level": "error"}]


def test_a_contact_dated_in_the_future_does_not_freeze_the_poll_cursor(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    box.create_contact(dict(PROPS), created_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    first = box.create_contact(dict(PROPS), created_at=datetime.now(UTC) - timedelta(minutes=3))
    ctx = make_context()
    run_cycle(ctx)
    later = box.create_contact(dict(PROPS))
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert rows[first].status == "task_created"
    assert rows[later].status == "task_created"


def test_a_store_written_by_an_earlier_version_is_scrubbed_at_start(
        box: HubSpotSandbox, hub_context: Callable[[], Context]) -> None:
    ctx = hub_context()
    now = datetime.now(UTC)
    with ctx.store.unit_of_work() as uow:  # a store as earlier versions left it
        uow.session.exec(delete(CursorRow).where(col(CursorRow.name) == "scrub:attributes:v1"))
        uow.leads.add_seen("hubspot", "555", now, {"insurance": FREE_TEXT, "state": "AZ"},
                           now=now)
        uow.audit.add("hubspot", "555", AuditKind.DECISION, now, detail={"steps": [
            {"kind": "rule_skipped", "coordinator": None,
             "detail": f"medicaid: insurance={FREE_TEXT!r} not in [medicaid]"}]})
        uow.commit()
    ctx.close()
    ctx = hub_context()  # the next start scrubs once
    with ctx.store.unit_of_work(read_only=True) as uow:
        lead = uow.leads.get("hubspot", "555")
        assert lead is not None and lead.attributes == {"insurance": OTHER, "state": OTHER}
    text = _stored_text(ctx) + _explained(ctx, "555")
    assert "medicaid: insurance='(other)' not in [medicaid]" in text
    for piece in ("Jane", "jane.roe", "555-0100"):
        assert piece not in text


def test_one_record_the_crm_refuses_never_fails_the_batch_it_was_sent_with(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    # the admin made the metadata property a dropdown and forgot the "medicaid" option:
    # HubSpot refuses a whole batch update (400) for one invalid value
    box.define_property("contacts", "leadrouter_rule", ["commercial", "everyone"])
    now = datetime.now(UTC)
    good = [box.create_contact(dict(PROPS), created_at=now - timedelta(minutes=10 - i))
            for i in range(9)]
    refused = box.create_contact({**PROPS, "insurance_type": "medicaid"},
                                 created_at=now - timedelta(minutes=5))
    ctx = make_context(extra_hubspot='[crm.hubspot.metadata_properties]\n'
                                     'rule = "leadrouter_rule"')
    run_cycle(ctx)
    rows = lead_rows(ctx)
    for cid in good:
        assert rows[cid].status == "task_created", cid
        assert box.contact(cid)["properties"]["leadrouter_rule"] == "commercial"
    assert rows[refused].status == "routed"  # its write is retried alone, with backoff
    assert not box.contact(refused)["properties"].get("hubspot_owner_id")
