"""`contact.propertyChange` webhooks for activity properties are hints: the lead they name is
checked for a contact attempt at once, with a read of that record (not the search, which
trails the CRM); a hint for a contact that is no watched lead costs no CRM call.

Through the real pipeline against the HubSpot sandbox over HTTPS, with real SQLite files;
the hints are what the real webhook parser makes of HubSpot's event JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.hubspot.webhooks import parse_hubspot
from connectors.webhooks import ACTIVITY_HINT
from sandbox.hubspot import HubSpotSandbox, contact_creation, property_change
from sync.context import Context
from sync.cycle import run_cycle
from sync.ingest import drain_inbox
from sync.sla_scan import SlaResult
from tests.pipeline.conftest import lead_rows

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}
# the eligibility properties: a filter's, and the owner (the connector always adds it)
WATCHED = frozenset({"lifecyclestage", "hubspot_owner_id"})


@pytest.mark.parametrize(("prop", "value", "stored_as"), [
    ("notes_last_contacted", "1764600000000", ACTIVITY_HINT),
    ("hs_last_sales_activity_timestamp", "1764600000000", ACTIVITY_HINT),
    ("hs_lead_status", "ATTEMPTED_TO_CONTACT", ACTIVITY_HINT),
    ("hs_lead_status", "CONNECTED", ACTIVITY_HINT),
    ("hubspot_owner_id", "1003", "contact.propertyChange"),  # eligibility, not activity
    ("hs_lead_status", "OPEN", None),  # an initial status is no attempt
    ("hs_lead_status", "NEW", None),
    ("firstname", "Person1", None),  # not an activity property
    ("lifecyclestage", "lead", "contact.propertyChange"),  # eligibility: read like a new one
])
def test_which_property_changes_are_stored_and_as_what(prop: str, value: str,
                                                        stored_as: str | None) -> None:
    body = json.dumps([property_change("501", prop, value)]).encode()
    events, ignored = parse_hubspot(body, WATCHED)
    assert [e.event_type for e in events] == ([stored_as] if stored_as else [])
    assert ignored == (0 if stored_as else 1)
    assert all(value not in e.dedupe_key for e in events)  # values are never kept


def _store_hints(ctx: Context, *events: dict[str, object]) -> None:
    parsed, _ = parse_hubspot(json.dumps(list(events)).encode(), WATCHED)
    with ctx.store.unit_of_work() as uow:
        for e in parsed:
            uow.inbox.add(e.source, e.dedupe_key, e.crm_id, e.event_type, e.occurred_at)
        uow.commit()


def _calls(box: HubSpotSandbox) -> dict[str, int]:
    return dict(box.counters()["calls"])


def _new_calls(before: dict[str, int], box: HubSpotSandbox) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in _calls(box).items() if v != before.get(k, 0)}


def test_an_activity_hint_checks_its_lead_now_by_reading_the_record(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    cid = box.create_contact(dict(PROPS))
    other = box.create_contact(dict(PROPS))
    ctx = make_context()
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert rows[cid].status == rows[other].status == "task_created"
    box.log_call(cid, rows[cid].crm_owner_id)  # the owner calls; HubSpot sends the change
    _store_hints(ctx, property_change(cid, "notes_last_contacted", "1764600000000"))
    before = _calls(box)
    heard: list[SlaResult] = []
    result = drain_inbox(ctx, on_attempts=heard.append)
    assert result.from_webhooks == 1
    assert [(f.contacted, f.within_sla) for f in heard] == [(1, 1)]
    after = lead_rows(ctx)
    assert after[cid].status == "contacted" and after[cid].contacted_at is not None
    assert after[other].status == "task_created"  # only the hinted lead was looked at
    calls = _new_calls(before, box)
    assert not any("search" in endpoint for endpoint in calls), calls
    assert sum(calls.values()) <= 2, calls  # the contact (and its task) in one batch read each


def test_an_activity_hint_for_a_contact_that_is_no_lead_costs_no_call(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    stranger = box.create_contact({**PROPS, "hubspot_owner_id": "1003"})
    ctx = make_context()
    _store_hints(ctx, property_change(stranger, "hs_lead_status", "CONNECTED"),
                 property_change("999999", "notes_last_contacted", "1764600000000"))
    before = _calls(box)
    heard: list[SlaResult] = []
    result = drain_inbox(ctx, on_attempts=heard.append)
    assert (result.from_webhooks, result.new, heard) == (2, 0, [])
    assert _new_calls(before, box) == {}
    assert lead_rows(ctx) == {}  # an activity hint never brings a lead
    assert drain_inbox(ctx).from_webhooks == 0  # processed: not looked at again


def test_a_redelivered_creation_hint_for_a_routed_lead_costs_no_call(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    cid = box.create_contact(dict(PROPS))
    ctx = make_context()
    run_cycle(ctx)
    _store_hints(ctx, contact_creation(cid))
    before = _calls(box)
    heard: list[SlaResult] = []
    assert drain_inbox(ctx, on_attempts=heard.append).from_webhooks == 1
    assert (heard, _new_calls(before, box)) == ([], {})
