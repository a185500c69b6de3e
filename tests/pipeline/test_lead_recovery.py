"""Leads left aside come back: skipped ones once eligible, unroutable ones once someone can
take them; webhook hints route only what polling would; the inbox stays bounded.

Through the real pipeline against the HubSpot sandbox over HTTPS, with real SQLite files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from state import AuditKind
from sync.config import parse_config
from sync.context import Context, build_context
from sync.cycle import run_cycle
from sync.ingest import drain_inbox, purge_inbox
from tests.pipeline.conftest import config_text, lead_rows

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}
LEADS_ONLY = '[crm.hubspot.filters]\nlifecyclestage = ["lead"]'


def _kinds(ctx: Context, crm_id: str) -> list[str]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return [row.kind for row in uow.audit.for_lead(ctx.crm, crm_id)]


def _hint(ctx: Context, crm_id: str, key: str) -> None:
    """What `/webhooks/hubspot` stores for an event (the record id only)."""
    with ctx.store.unit_of_work() as uow:
        uow.inbox.add("hubspot", key, crm_id, "contact.propertyChange", datetime.now(UTC))
        uow.commit()


def test_a_skipped_contact_that_becomes_eligible_is_routed_by_the_next_poll(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    cid = box.create_contact(dict(PROPS))  # a form without lifecyclestage: not a lead yet
    owned = box.create_contact({**PROPS, "hubspot_owner_id": "1003"})
    ctx = make_context(extra_hubspot=LEADS_ONLY)
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].status == "skipped"
    box.update_contact(cid, {"lifecyclestage": "lead"})  # seconds later, a workflow sets it
    box.update_contact(owned, {"lifecyclestage": "lead"})
    run_cycle(ctx)  # the poll's overlap window reads both again
    rows = lead_rows(ctx)
    assert rows[cid].status == "task_created" and len(box.tasks_for(cid)) == 1
    assert AuditKind.REEVALUATED.value in _kinds(ctx, cid)
    assert rows[owned].status == "skipped"  # a person owns it: never taken
    assert box.contact(owned)["properties"]["hubspot_owner_id"] == "1003"


def test_a_webhook_hint_reevaluates_a_skipped_contact_only_inside_the_backfill_window(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    now = datetime.now(UTC)
    recent = box.create_contact(dict(PROPS), created_at=now - timedelta(hours=3))
    ctx = make_context(extra_hubspot=LEADS_ONLY)
    run_cycle(ctx)
    assert lead_rows(ctx)[recent].status == "skipped"
    box.update_contact(recent, {"lifecyclestage": "lead"})  # outside the poll overlap now
    _hint(ctx, recent, "hubspot:change:recent")
    run_cycle(ctx)
    assert lead_rows(ctx)[recent].status == "task_created"


def test_a_forged_or_stale_hint_never_routes_a_record_polling_would_not(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    old = box.create_contact(dict(PROPS), created_at=datetime.now(UTC) - timedelta(days=75))
    ctx = make_context()
    run_cycle(ctx)
    _hint(ctx, old, "hubspot:creation:old")
    result = run_cycle(ctx)
    assert old not in lead_rows(ctx)
    assert result.ingest.from_webhooks == 1  # taken, looked at, and dropped
    assert not box.contact(old)["properties"].get("hubspot_owner_id")
    assert box.tasks_for(old) == []


def test_another_crms_events_never_fill_the_inbox_batch(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    run_cycle(ctx)
    box.index_lag = 60.0  # only the hint can bring this contact in during the test
    cid = box.create_contact(dict(PROPS))
    with ctx.store.unit_of_work() as uow:
        for n in range(600):  # older than the HubSpot event, so first in line
            uow.inbox.add("salesforce", f"salesforce:x:{n}", f"00Q{n:015d}", "outbound:Lead")
        uow.inbox.add("hubspot", "hubspot:creation:new", cid, "contact.creation")
        uow.commit()
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].status == "task_created"


def test_processed_webhook_events_are_purged_after_their_retention(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    now = datetime.now(UTC)
    with ctx.store.unit_of_work() as uow:
        for key in ("old", "recent", "pending"):
            uow.inbox.add("hubspot", key, "1", "contact.creation", received_at=now)
        rows = {row.dedupe_key: row.id for row in uow.inbox.unprocessed(10)}
        uow.inbox.mark_processed([rows["old"]], now=now - timedelta(days=3))
        uow.inbox.mark_processed([rows["recent"]], now=now - timedelta(hours=1))
        uow.commit()
    assert purge_inbox(ctx) == 1
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.inbox.backlog() == 1  # the unprocessed one is never purged
        assert not uow.inbox.add("hubspot", "recent", "1", "contact.creation")  # still known


def _capacity_one(text: str) -> str:
    """Every coordinator takes one open lead; no fallback owner."""
    text = text.replace('fallback_owner = "dana"', "")
    return re.sub(r"^teams = \[", "capacity = 1\nteams = [", text, flags=re.MULTILINE)


def test_an_unroutable_lead_is_routed_once_capacity_frees_with_a_retry_in_its_trail(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    ids = [box.create_contact(dict(PROPS), created_at=now - timedelta(minutes=20 - i))
           for i in range(10)]  # 8 coordinators in the pool, capacity 1 each
    config = parse_config(_capacity_one(config_text(box, tmp_path / "state.db",
                                                    single_pool=True)))
    ctx = build_context(config, environ={"HUBSPOT_TOKEN": box.token})
    try:
        run_cycle(ctx)
        rows = lead_rows(ctx)
        waiting = sorted((cid for cid in ids if rows[cid].status == "unroutable"),
                         key=lambda cid: rows[cid].created_at)
        assert len(waiting) == 2
        contacted = next(cid for cid in ids if rows[cid].status == "task_created")
        box.log_call(contacted)
        run_cycle(ctx)  # the call frees a seat: the oldest waiting lead takes it now
        rows = lead_rows(ctx)
        assert rows[contacted].status == "contacted"
        assert rows[waiting[0]].status == "task_created"
        assert rows[waiting[0]].owner == rows[contacted].owner
        assert AuditKind.RETRY.value in _kinds(ctx, waiting[0])
        assert rows[waiting[1]].status == "unroutable"
        assert _kinds(ctx, waiting[1]).count(AuditKind.RETRY.value) >= 1
    finally:
        ctx.close()


def test_hints_for_leads_already_on_their_way_cost_no_crm_call(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    cid = box.create_contact(dict(PROPS))
    ctx = make_context()
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].status == "task_created"
    for n in range(50):  # replays, or forgeries naming a real id
        _hint(ctx, cid, f"hubspot:replay:{n}")
    start = len(box.request_log)
    result = drain_inbox(ctx)
    assert result.from_webhooks == 50
    assert box.request_log[start:] == []
