"""A backlog of several search pages in one `sync --once`: every page routed and written
while the next pages are fetched, owners compared with what the poll just read."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus
from sync.context import Context
from sync.pipeline import STEPS, Run, run_steps
from tests.pipeline.conftest import lead_rows, seed

SEARCH = "/crm/v3/objects/contacts/search"

UPDATE = "/crm/v3/objects/contacts/batch/update"


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
