"""Live availability through the real pipeline: HubSpot users' availability status and a
Salesforce User checkbox make a coordinator ineligible while away, and not after."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.app import RouteFault
from sandbox.salesforce import SalesforceSandbox
from state import AVAILABILITY_LOCK
from state.repos.availability import CLI, CRM
from sync.config import ConfigError
from sync.context import Context
from sync.cycle import run_cycle
from sync.explain import explain
from sync.pipeline import STEPS, Job, Run, run_steps
from tests.conftest import PgServer
from tests.pipeline.conftest import hubspot_context

# the "commercial" rule: round robin over maria, li, devon, aisha, carlos
PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}
MARIA = "1001"


def new_leads(box: HubSpotSandbox, count: int) -> list[str]:
    return [box.create_contact(dict(PROPS)) for _ in range(count)]


def owners(box: HubSpotSandbox, ids: list[str]) -> Counter[str]:
    return Counter(str(box.contact(i)["properties"].get("hubspot_owner_id") or "")
                   for i in ids)


def trail(ctx: Context, crm_id: str) -> str:
    out = io.StringIO()
    assert explain(ctx.store, ctx.crm, crm_id, Console(file=out, width=200, highlight=False))
    return out.getvalue()


def test_an_away_hubspot_user_gets_no_leads_until_available_again(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context(extra_hubspot="availability = true")
    box.set_availability(MARIA, "away")
    first = new_leads(box, 10)
    result = run_cycle(ctx)
    assert result.routing.routed == 10 and not result.failed_steps
    given = owners(box, first)
    assert given[MARIA] == 0
    assert set(given) == {"1002", "1005", "1006", "1007"}  # the others share them
    assert "skipped [maria]: away (marked away)" in trail(ctx, first[0])

    second = new_leads(box, 8)
    run_cycle(ctx)  # still away on the next cycle
    assert owners(box, second)[MARIA] == 0

    box.set_availability(MARIA, "available")
    third = new_leads(box, 10)
    result = run_cycle(ctx)
    assert Job.RELEASE in result.follow_up  # a return retries the leads that found nobody
    # back in the rotation where it stands: one turn per round, no back-fill of missed leads
    assert owners(box, third)[MARIA] == 2
    assert "away" not in trail(ctx, third[-1])


def test_availability_off_ignores_the_status(box: HubSpotSandbox,
                                             make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    box.set_availability(MARIA, "away")
    ids = new_leads(box, 10)
    run_cycle(ctx)
    assert owners(box, ids)[MARIA] == 2
    assert box.counters()["calls"].get("GET /crm/v3/objects/users", 0) == 0


def test_a_refused_users_read_fails_alone(box: HubSpotSandbox,
                                         make_context: Callable[..., Context]) -> None:
    ctx = make_context(extra_hubspot="availability = true")
    box.set_availability(MARIA, "away")
    run_cycle(ctx)  # maria's away mark is read
    box.route_faults["GET /crm/v3/objects/users"] = RouteFault(status=403)  # scope missing
    ids = new_leads(box, 10)
    result = run_cycle(ctx)
    assert result.failed_steps == ["availability"] and result.auth_error is None
    assert result.apply.owners_written == 10 and result.apply.tasks_created == 10
    assert owners(box, ids)[MARIA] == 0  # the last status read still holds


def test_a_checked_salesforce_user_field_keeps_them_away(
        sf_box: SalesforceSandbox, make_sf_context: Callable[..., Context]) -> None:
    maria = sf_box.user_id("maria")
    sf_box.set_user_away(maria, True)
    ctx = make_sf_context(extra_salesforce='away_field = "Is_Away__c"')

    def commercial_leads(count: int) -> list[str]:
        return [sf_box.create_lead(Insurance_Type__c="commercial", State="AZ")
                for _ in range(count)]

    def owners_of(ids: list[str]) -> Counter[str]:
        return Counter(str(sf_box.get(i)["OwnerId"]) for i in ids)

    first = commercial_leads(10)
    result = run_cycle(ctx)
    assert result.routing.routed == 10 and not result.failed_steps
    given = owners_of(first)
    assert given[maria] == 0
    assert set(given) == {sf_box.user_id(h) for h in ("li", "devon", "aisha", "carlos")}
    assert "skipped [maria]: away (marked away)" in trail(ctx, first[0])

    sf_box.set_user_away(maria, False)
    second = commercial_leads(10)
    run_cycle(ctx)
    assert owners_of(second)[maria] == 2


def test_a_salesforce_away_field_must_be_a_field_name(
        sf_box: SalesforceSandbox, make_sf_context: Callable[..., Context]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_sf_context(extra_salesforce='away_field = "Is_Away__c = true OR Id"')
    assert "away_field" in "\n".join(caught.value.problems)


def test_marks_on_both_stores(box: HubSpotSandbox, state_url: str) -> None:
    """The same marks on SQLite and PostgreSQL: the CRM's, a command-line one with an end,
    and the return noticed once it has passed."""
    ctx = hubspot_context(box, state_url, extra_hubspot="availability = true")
    try:
        box.set_availability(MARIA, "away")
        now = datetime.now(UTC)
        with ctx.store.unit_of_work() as uow:
            uow.availability.mark_away("li", CLI, now, now + timedelta(hours=1))
            uow.commit()
        ids = new_leads(box, 6)
        run_cycle(ctx)
        assert owners(box, ids) == Counter({"1005": 2, "1006": 2, "1007": 2})
        with ctx.store.unit_of_work(read_only=True) as uow:
            assert uow.availability.away(now) == {"maria": {CRM}, "li": {CLI}}
            assert uow.availability.until("li", now) == now + timedelta(hours=1)

        box.set_availability(MARIA, "available")
        with ctx.store.unit_of_work() as uow:
            assert uow.availability.mark_back("li", CLI, datetime.now(UTC))
            assert not uow.availability.mark_back("li", CLI, datetime.now(UTC))
            uow.commit()
        result = run_cycle(ctx)
        assert Job.RELEASE in result.follow_up
        with ctx.store.unit_of_work(read_only=True) as uow:
            assert uow.availability.away(datetime.now(UTC)) == {}
            assert uow.availability.sweep_expired(datetime.now(UTC)) == []  # swept already
        ids = new_leads(box, 10)
        run_cycle(ctx)
        assert owners(box, ids)[MARIA] == 2 and owners(box, ids)["1002"] == 2
    finally:
        ctx.close()


def test_one_worker_per_portal_reads_availability_on_postgresql(
        box: HubSpotSandbox, pg_server: PgServer) -> None:
    """Several workers on one PostgreSQL: while one reads who the CRM shows away (it holds
    the portal's availability lock), another skips that step instead of reading it too."""
    url = pg_server.new_database()
    first = hubspot_context(box, url, extra_hubspot="availability = true")
    second = hubspot_context(box, url, extra_hubspot="availability = true")
    availability = [step for step in STEPS if step.name == "availability"]
    try:
        box.set_availability(MARIA, "away")
        with first.store.exclusive(AVAILABILITY_LOCK) as mine:
            assert mine
            before = _user_reads(box)
            run_steps(Run(second), availability)
            assert _user_reads(box) == before  # skipped: the other worker holds it
        run_steps(Run(second), availability)
        assert _user_reads(box) > before
        with second.store.unit_of_work(read_only=True) as uow:
            assert uow.availability.away(datetime.now(UTC)) == {"maria": {CRM}}
    finally:
        first.close()
        second.close()


def _user_reads(box: HubSpotSandbox) -> int:
    return sum(n for endpoint, n in box.counters()["calls"].items() if "users" in endpoint)
