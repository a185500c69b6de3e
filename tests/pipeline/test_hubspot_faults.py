"""Faults: 5xx, ambiguous writes, resets and a tight rate limit still converge exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus
from sync.context import Context
from sync.cycle import run_cycle
from tests.pipeline.conftest import lead_rows, seed

DONE = {LeadStatus.TASK_CREATED, LeadStatus.SKIPPED}


def test_faults_and_rate_limits_converge_with_no_duplicates_and_no_early_retries(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ids = seed(box, 60, seed_value=9)
    ctx = make_context()
    box.limiter.ten_second_limit = 8  # far below what the client allows itself (190)
    box.faults = Faults(error_rate=0.2, ambiguous_rate=0.1, reset_rate=0.03, seed=5)
    box.clear_log()

    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        run_cycle(ctx)  # a step may stop on a retriable storm; the next cycle resumes it
        rows = lead_rows(ctx)
        if len(rows) == len(ids) and all(r.status in DONE for r in rows.values()):
            break
        time.sleep(0.5)
    box.faults = Faults()

    rows = lead_rows(ctx)
    assert sorted(rows) == sorted(ids), "every lead was seen"
    assert {r.status for r in rows.values()} <= DONE, {r.status for r in rows.values()}
    for cid in ids:
        tasks = box.tasks_for(cid)
        assert len(tasks) == 1, (cid, len(tasks))
        owner = box.contact(cid)["properties"]["hubspot_owner_id"]
        assert tasks[0]["properties"]["hubspot_owner_id"] == owner

    log = sorted(box.request_log, key=lambda r: r.at)
    statuses = {r.status for r in log}
    assert 429 in statuses and statuses & {500, 502, 503}, statuses
    for index, refused in enumerate(log):
        if refused.status != 429 or refused.retry_after is None:
            continue
        bucket = refused.path.endswith("/search")
        later = [r for r in log[index + 1:] if r.path.endswith("/search") == bucket]
        if later:
            gap = later[0].at - refused.at
            assert gap >= refused.retry_after - 0.01, (refused, later[0])
