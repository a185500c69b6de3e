"""The on-call ladder: a page is acknowledged, or it climbs the rotation to the final owner."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import TwilioEmulator
from state import OutboxKind
from sync.context import Context
from sync.cycle import run_cycle
from sync.paging import Ack, acknowledge
from sync.report.figures import build_report
from tests.paging.conftest import PUBLIC_URL, pages
from tests.pipeline.conftest import COORDINATORS, FRIDAY_NIGHT, lead_rows

ACK = re.compile(re.escape(PUBLIC_URL) + r"/ack/(\S+)")


def _lead_at_night(box: HubSpotSandbox, clock: list[datetime]) -> str:
    return box.create_contact({"insurance_type": "commercial", "state": "AZ"},
                              created_at=clock[0] - timedelta(minutes=1))


def _paged(box: HubSpotSandbox, night: Callable[..., Context]
           ) -> tuple[list[datetime], Context, str]:
    """Friday night: a new lead, routed through the rotation (maria is on call)."""
    clock = [FRIDAY_NIGHT]
    ctx = night(clock)
    cid = _lead_at_night(box, clock)
    run_cycle(ctx)
    return clock, ctx, cid


def _events(ctx: Context, cid: str) -> list[tuple[str, str | None, object]]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return [(e.event, e.coordinator, e.detail.get("by"))
                for e in uow.events.for_lead("hubspot", cid)]


def _crm_owner(box: HubSpotSandbox, cid: str) -> str | None:
    owner: str | None = box.contact(cid)["properties"].get("hubspot_owner_id")
    return owner


def _page_checks(ctx: Context) -> dict[str, str | None]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = uow.outbox.pending(100, datetime(2100, 1, 1, tzinfo=UTC_),
                                  kind=OutboxKind.PAGE_CHECK)
    return {row.key: row.result for row in rows}


UTC_ = FRIDAY_NIGHT.tzinfo


def _pages_report(ctx: Context, now: datetime) -> dict[str, int]:
    report = build_report(ctx.store, ctx.config, since=now - timedelta(days=1), until=now,
                          now=now)
    pages: dict[str, int] = report["pages"]
    return pages


def test_an_unacknowledged_page_climbs_the_rotation_then_reaches_the_final_owner(
        box: HubSpotSandbox, twilio: TwilioEmulator,
        night: Callable[..., Context]) -> None:
    clock, ctx, cid = _paged(box, night)
    assert lead_rows(ctx)[cid].owner == "maria"
    assert [who for who, _ in pages(twilio)] == ["maria"]
    assert "On-call page" in pages(twilio)[0][1] and ACK.search(pages(twilio)[0][1])

    clock[0] += timedelta(minutes=9)  # not yet
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].owner == "maria" and len(pages(twilio)) == 1

    ladder = ["li", "james", "dana"]  # the rotation after maria, then the final owner
    for step, who in enumerate(ladder, start=1):
        clock[0] += timedelta(minutes=11)
        result = run_cycle(ctx)
        row = lead_rows(ctx)[cid]
        assert row.owner == who, f"step {step}"
        assert _crm_owner(box, cid) == COORDINATORS[who][0]
        assert [w for w, _ in pages(twilio)] == ["maria", *ladder[:step]]
        final = who == "dana"
        assert (result.paging.escalated, result.paging.passed_on) == (int(final), int(not final))
        # a passed-on page runs its new clock like any assignment; the final owner ends it
        assert row.status == ("escalated_final" if final else "task_created")
    assert "Lead escalated to you" in pages(twilio)[-1][1]
    assert all("On-call page" in body for _, body in pages(twilio)[1:-1])

    clock[0] += timedelta(hours=1)  # the final owner ends the ladder
    run_cycle(ctx)
    assert len(pages(twilio)) == 4 and lead_rows(ctx)[cid].owner == "dana"
    assert lead_rows(ctx)[cid].excluded == ["james", "li", "maria"]
    events = [e for e, _, _ in _events(ctx, cid)]
    assert events.count("passed_on") == 2 and events.count("page_escalated") == 1
    # one task per person it reached, each for its owner
    assert len(box.tasks_for(cid)) == 4
    assert _pages_report(ctx, clock[0]) == {"sent": 4, "acknowledged": 0, "passed_on": 2,
                                            "escalated": 1}


def test_an_acknowledged_page_is_not_passed_on(
        box: HubSpotSandbox, twilio: TwilioEmulator,
        night: Callable[..., Context]) -> None:
    clock, ctx, cid = _paged(box, night)
    token = ACK.search(pages(twilio)[0][1]).group(1)  # type: ignore[union-attr]
    assert ctx.links is not None
    clock[0] += timedelta(minutes=3)
    claim = ctx.links.verify(token, clock[0])
    assert (claim.crm_id, claim.coordinator, claim.assignment) == (cid, "maria", 1)
    assert acknowledge(ctx, claim, clock[0]) is Ack.ACKNOWLEDGED
    assert acknowledge(ctx, claim, clock[0]) is Ack.ALREADY

    clock[0] += timedelta(minutes=20)  # past ack_within (10m), before the SLA (30m)
    result = run_cycle(ctx)
    assert result.paging.passed_on == 0 and lead_rows(ctx)[cid].owner == "maria"
    assert len(pages(twilio)) == 1
    assert ("acknowledged", "maria", "link") in _events(ctx, cid)
    assert _pages_report(ctx, clock[0]) == {"sent": 1, "acknowledged": 1, "passed_on": 0,
                                            "escalated": 0}


def test_a_contact_attempt_acknowledges_the_page(
        box: HubSpotSandbox, twilio: TwilioEmulator,
        night: Callable[..., Context]) -> None:
    clock, ctx, cid = _paged(box, night)
    box.log_call(cid, COORDINATORS["maria"][0], at=clock[0] + timedelta(minutes=4))
    clock[0] += timedelta(minutes=5)
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].status == "contacted"

    clock[0] += timedelta(minutes=20)
    assert run_cycle(ctx).paging.passed_on == 0
    assert lead_rows(ctx)[cid].owner == "maria" and len(pages(twilio)) == 1
    assert ("acknowledged", "maria", "contact_attempt") in _events(ctx, cid)
    assert _pages_report(ctx, clock[0])["acknowledged"] == 1


def test_the_link_of_a_page_that_was_passed_on_no_longer_acknowledges(
        box: HubSpotSandbox, twilio: TwilioEmulator,
        night: Callable[..., Context]) -> None:
    clock, ctx, cid = _paged(box, night)
    token = ACK.search(pages(twilio)[0][1]).group(1)  # type: ignore[union-attr]
    clock[0] += timedelta(minutes=11)
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].owner == "li"
    assert ctx.links is not None
    assert acknowledge(ctx, ctx.links.verify(token, clock[0]), clock[0]) is Ack.PASSED_ON
    assert "acknowledged" not in [e for e, _, _ in _events(ctx, cid)]


def test_leads_routed_in_office_hours_are_not_paged_or_checked(
        box: HubSpotSandbox, twilio: TwilioEmulator,
        night: Callable[..., Context]) -> None:
    clock = [datetime(2026, 11, 30, 17, 0, tzinfo=UTC_)]  # Monday 10:00 in Phoenix
    ctx = night(clock)
    cid = _lead_at_night(box, clock)
    run_cycle(ctx)
    assert lead_rows(ctx)[cid].owner is not None
    assert pages(twilio) == [] and _page_checks(ctx) == {}
