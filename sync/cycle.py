"""`sync --once`: one run of every pipeline step (see sync/pipeline.py), logged, then an auth
error raised for the command to report.

Every step runs even when an earlier one failed: a failure is recorded and logged, never
allowed to skip the rest (pending work stays in the outbox and the cursor for the next cycle).
"""

from __future__ import annotations

import time

from sync.context import Context
from sync.logs import get_logger
from sync.pipeline import RunResult, run_once

log = get_logger("leadrouter.cycle")

CycleResult = RunResult  # the name callers of `run_cycle` know


def run_cycle(ctx: Context) -> RunResult:
    """Everything `sync --once` promises. A CRM auth error is raised after the store-only
    steps have run: a person must act."""
    started = time.monotonic()
    result = run_once(ctx)
    log.info("cycle.done", crm=ctx.crm, duration_ms=round((time.monotonic() - started) * 1000),
             routed=result.routing.routed, held=result.routing.held,
             unroutable=result.routing.unroutable, written=result.apply.owners_written,
             created=result.apply.tasks_created, contacted=result.sla.contacted,
             breached=result.sla.breached, escalated=result.sla.escalated,
             overridden=result.apply.overridden + result.sla.overridden,
             failed=result.failed_steps or None)
    if result.auth_error is not None:
        raise result.auth_error
    return result
