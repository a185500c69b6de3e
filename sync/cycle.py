"""One full cycle: ingest -> route -> apply -> contact attempts -> escalation -> apply."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sync.apply import ApplyResult, apply_pending
from sync.assign import RouteResult, release_held, route_waiting
from sync.context import Context
from sync.ingest import IngestResult, drain_inbox, poll
from sync.logs import get_logger
from sync.sla import SlaResult, detect_attempts, escalate_breached

log = get_logger("leadrouter.cycle")


@dataclass
class CycleResult:
    ingest: IngestResult = field(default_factory=IngestResult)
    routing: RouteResult = field(default_factory=RouteResult)
    apply: ApplyResult = field(default_factory=ApplyResult)
    sla: SlaResult = field(default_factory=SlaResult)
    released: int = 0

    def summary(self) -> dict[str, Any]:
        return {name: asdict(value) if hasattr(value, "__dataclass_fields__") else value
                for name, value in vars(self).items()}


def run_cycle(ctx: Context) -> CycleResult:
    """Everything `sync --once` promises. CRM auth errors propagate: a person must act."""
    started = time.monotonic()
    result = CycleResult()
    result.ingest = poll(ctx)
    hinted = drain_inbox(ctx)
    result.ingest.new += hinted.new
    result.ingest.from_webhooks = hinted.from_webhooks
    result.released = release_held(ctx)
    result.routing = route_waiting(ctx)
    result.apply = apply_pending(ctx)
    result.sla = detect_attempts(ctx)
    breaches = escalate_breached(ctx)
    result.sla.breached, result.sla.reassigned = breaches.breached, breaches.reassigned
    result.sla.escalated = breaches.escalated
    if breaches.breached:
        more = apply_pending(ctx)
        result.apply.owners_written += more.owners_written
        result.apply.tasks_created += more.tasks_created
        result.apply.overridden += more.overridden
        result.apply.failed += more.failed
    log.info("cycle.done", crm=ctx.crm, duration_ms=round((time.monotonic() - started) * 1000),
             routed=result.routing.routed, held=result.routing.held,
             unroutable=result.routing.unroutable, written=result.apply.owners_written,
             created=result.apply.tasks_created, contacted=result.sla.contacted,
             breached=result.sla.breached, escalated=result.sla.escalated,
             overridden=result.apply.overridden + result.sla.overridden)
    return result
