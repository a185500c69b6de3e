"""A backlog of several search pages in one `sync --once`: every page routed and written
while the next pages are fetched, owners compared with what the poll just read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import AuthError
from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.app import RouteFault
from state import LeadStatus
from sync.context import Context
from sync.cycle import run_cycle
from sync.pipeline import STEPS, Run, run_steps
from tests.pipeline.conftest import lead_rows, seed

SEARCH = "/crm/v3/objects/contacts/search"

UPDATE = "/crm/v3/objects/contacts/batch/update"
CREATE = "/crm/v3/objects/tasks/batch/create"


def test_one_sync_routes_a_multi_page_backlog_writing_while_it_polls(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ids = seed(box, 480, owned=30, seed_value=81)  # three search pages
    unowned = {cid for cid in ids if not box.contact(cid)["properties"].get("hubspot_owner_id")}
    assert 400 < len(unowned) < 480
    ctx = make_context()
    box.clear_log()
    reported: list[str] = []  # steps in the order their figures came
    run = Run(ctx, on_figures=lambda step, figures: reported.append(step.name))
    result = run_steps(run, STEPS)  # every step once, as `sync --once` runs them

    rows = lead_rows(ctx)
    assert sorted(rows) == sorted(ids)
    routed = [cid for cid, row in rows.items() if row.status == LeadStatus.TASK_CREATED]
    assert set(routed) == unowned
    assert result.routing.routed == result.apply.tasks_created == len(unowned)
    assert {row.status for cid, row in rows.items() if cid not in routed} == {
        LeadStatus.SKIPPED}
    for cid in routed[:20]:
        assert box.contact(cid)["properties"]["hubspot_owner_id"] == rows[cid].crm_owner_id
        assert len(box.tasks_for(cid)) == 1

    log = sorted(box.request_log, key=lambda r: r.at)
    searches = [r for r in log if r.path == SEARCH]
    updates = [r for r in log if r.path == UPDATE]
    # three poll pages by `after` (none read twice), then one search for contact activity
    assert len(searches) == 4
    # pages were routed and written while the poll went on: their figures came first
    assert reported.index("route") < reported.index("apply") < reported.index("poll")
    # the owners the poll had just read were the compare: no contact read before a write
    assert not [r for r in log if r.path == "/crm/v3/objects/contacts/batch/read"]
    assert len(updates) <= 6  # at most two batches of 100 a page


@pytest.mark.parametrize("refused_path", [UPDATE, CREATE], ids=["owner-writes", "task-creates"])
def test_writes_refused_while_the_next_call_is_in_flight_lose_nothing_and_double_nothing(
        box: HubSpotSandbox, make_context: Callable[..., Context], refused_path: str) -> None:
    """A call is always in flight while the last batch is recorded: when the CRM refuses
    the token mid-backlog, the step ends with the auth error once the call in flight is
    back (a task batch's claim let go), its rows come due again after their lease, and the
    next runs write every owner once and create one task per lead."""
    ids = seed(box, 480, owned=30, seed_value=83)  # three search pages
    unowned = {cid for cid in ids if not box.contact(cid)["properties"].get("hubspot_owner_id")}
    ctx = make_context(extra_service='claim_lease = "1s"')
    route = f"POST {refused_path}"
    box.route_faults[route] = RouteFault(status=401)  # a person must fix the token
    with pytest.raises(AuthError):
        run_cycle(ctx)
    refused = [r for r in box.request_log if r.path == refused_path]
    assert len(refused) >= 2  # the refused batch, and the next one already sent
    assert all(r.status == 401 for r in refused)
    assert not box.all_tasks()

    del box.route_faults[route]
    rows = runs_until_every_task_is_made(box, ctx, unowned)
    for cid in unowned:
        assert box.contact(cid)["properties"]["hubspot_owner_id"] == rows[cid].crm_owner_id


def runs_until_every_task_is_made(box: HubSpotSandbox, ctx: Context,
                                  unowned: set[str]) -> dict[str, Any]:
    """Run cycles (a few, 2.5 s apart: lapsed claims, backoffs) until each unowned lead has
    its task; then each has exactly one and is `task_created`. The lead rows."""
    time.sleep(2.5)  # claims of calls that were not recorded lapse; refused rows come due
    for _ in range(3):
        run_cycle(ctx)
        if len(box.all_tasks()) == len(unowned):
            break
        time.sleep(2.5)
    rows = lead_rows(ctx)
    assert {cid for cid, row in rows.items() if row.status == LeadStatus.TASK_CREATED} == unowned
    assert sorted(len(box.tasks_for(cid)) for cid in unowned) == [1] * len(unowned)
    return rows


def test_a_poll_failing_between_pages_ends_the_task_calls_left_in_flight(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    """A page's last task calls fly while the next page is routed. When the poll then fails
    (here the token is refused on a later search), those calls end and their claims are
    let go (no renewal thread outlives the step), and the next runs create every lead's
    task once: the tasks the abandoned calls made are found by their markers."""
    ids = seed(box, 800, owned=30, seed_value=85)  # four search pages
    unowned = {cid for cid in ids if not box.contact(cid)["properties"].get("hubspot_owner_id")}
    ctx = make_context(extra_service='claim_lease = "1s"')
    search = f"POST {SEARCH}"

    def refuse_searches_once_routing(step: Any, figures: Any) -> None:
        if step.name == "route":  # the first page is routed: a later page's search fails
            box.route_faults[search] = RouteFault(status=401)

    result = run_steps(Run(ctx, on_figures=refuse_searches_once_routing), STEPS)
    assert isinstance(result.auth_error, AuthError)
    assert result.failed_steps == ["poll"]  # and the CRM steps after it were skipped
    assert len(lead_rows(ctx)) < len(ids)  # the poll ended between pages
    assert not [t for t in threading.enumerate()
                if t.name.startswith(("claim-renewal", "crm-writes")) and t.is_alive()]
    made = len(box.all_tasks())
    assert 0 < made < len(unowned)

    del box.route_faults[search]
    runs_until_every_task_is_made(box, ctx, unowned)
