"""Polling: the backfill window, the indexing lag, webhook hints and routing metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox.hubspot import HubSpotSandbox
from state import AuditKind
from sync.context import Context
from sync.cycle import run_cycle
from tests.pipeline.conftest import lead_rows

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}


def test_first_sync_routes_only_leads_inside_the_backfill_window(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    now = datetime.now(UTC)
    old = [box.create_contact(dict(PROPS), created_at=now - timedelta(hours=30))
           for _ in range(5)]
    recent = [box.create_contact(dict(PROPS), created_at=now - timedelta(hours=2))
              for _ in range(5)]
    ctx = make_context()
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert sorted(rows) == sorted(recent)
    assert all(not box.contact(cid)["properties"].get("hubspot_owner_id") for cid in old)


def test_a_contact_indexed_late_is_still_found_thanks_to_the_overlap(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    now = datetime.now(UTC)
    early = box.create_contact(dict(PROPS), created_at=now - timedelta(seconds=10))
    box.index_lag = 2.0  # search shows records only 2 s after they are written
    late = box.create_contact(dict(PROPS), created_at=now - timedelta(seconds=40))
    ctx = make_context()
    run_cycle(ctx)
    assert sorted(lead_rows(ctx)) == [early]  # the cursor is now past `late`'s createdate
    time.sleep(2.1)
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert sorted(rows) == sorted([early, late])
    assert rows[late].status == "task_created" and len(box.tasks_for(late)) == 1


def test_webhook_hints_in_the_inbox_are_fetched_and_routed(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    run_cycle(ctx)  # cursor set; nothing yet
    box.index_lag = 60.0  # search will not show the new contact during this test
    cid = box.create_contact(dict(PROPS))
    with ctx.store.unit_of_work() as uow:
        for _ in range(3):  # duplicate deliveries are harmless
            uow.inbox.add("hubspot", f"contact.creation:{cid}", cid, "contact.creation",
                          datetime.now(UTC))
        uow.commit()
    result = run_cycle(ctx)
    assert result.ingest.from_webhooks == 1 and result.routing.routed == 1
    assert box.contact(cid)["properties"]["hubspot_owner_id"]
    assert len(box.tasks_for(cid)) == 1


def test_routing_metadata_is_written_only_to_configured_properties(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    for name in ("leadrouter_rule", "leadrouter_sla_due"):
        box.define_property("contacts", name)
    cid = box.create_contact(dict(PROPS), created_at=datetime.now(UTC) - timedelta(minutes=5))
    ctx = make_context(extra_hubspot='[crm.hubspot.metadata_properties]\n'
                                     'rule = "leadrouter_rule"\n'
                                     'sla_due = "leadrouter_sla_due"\n')
    run_cycle(ctx)
    props = box.contact(cid)["properties"]
    assert props["leadrouter_rule"] == "commercial"
    sla_due = datetime.fromisoformat(props["leadrouter_sla_due"])
    assert sla_due == lead_rows(ctx)[cid].sla_due
    with ctx.store.unit_of_work(read_only=True) as uow:
        kinds = [row.kind for row in uow.audit.for_lead("hubspot", cid)]
    assert kinds[:4] == [AuditKind.ARRIVED, AuditKind.DECISION, AuditKind.OWNER_WRITTEN,
                         AuditKind.TASK_CREATED]


def test_more_new_leads_than_a_poll_page_inside_the_overlap_window_all_arrive(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    now = datetime.now(UTC)
    ids = box.seed_contacts(700, created_between=(now - timedelta(seconds=60), now),
                            rng_seed=21)
    ctx = make_context()
    result = run_cycle(ctx)
    assert result.ingest.new == 700
    assert sorted(lead_rows(ctx)) == sorted(ids)
