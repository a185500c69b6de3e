"""One full cycle: ingest -> route -> apply -> contact attempts -> escalation -> apply."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from connectors.base import AuthError, CrmError
from sync.apply import ApplyResult, apply_pending
from sync.assign import RouteResult, release_held, route_waiting
from sync.context import Context
from sync.ingest import IngestResult, drain_inbox, poll
from sync.logs import get_logger
from sync.sla import SlaResult, detect_attempts, escalate_breached

log = get_logger("leadrouter.cycle")
T = TypeVar("T")


@dataclass
class CycleResult:
    ingest: IngestResult = field(default_factory=IngestResult)
    routing: RouteResult = field(default_factory=RouteResult)
    apply: ApplyResult = field(default_factory=ApplyResult)
    sla: SlaResult = field(default_factory=SlaResult)
    released: int = 0
    failed_steps: list[str] = field(default_factory=list)  # steps stopped by CRM errors

    def summary(self) -> dict[str, Any]:
        return {name: asdict(value) if hasattr(value, "__dataclass_fields__") else value
                for name, value in vars(self).items()}


def _step(result: CycleResult, name: str, step: Callable[[], T], empty: T) -> T:
    """Run one step; a CRM error that outlived the retries ends this step, not the cycle
    (auth errors do end it: a person must act). The outbox and cursor make this safe."""
    try:
        return step()
    except AuthError:
        raise
    except CrmError as exc:
        result.failed_steps.append(name)
        log.warning("cycle.step_failed", job=name, error=str(exc), error_type=type(exc).__name__)
        return empty


def run_cycle(ctx: Context) -> CycleResult:
    """Everything `sync --once` promises. CRM auth errors propagate: a person must act."""
    started = time.monotonic()
    result = CycleResult()
    result.ingest = _step(result, "poll", lambda: poll(ctx), IngestResult())
    hinted = _step(result, "inbox", lambda: drain_inbox(ctx), IngestResult())
    result.ingest.new += hinted.new
    result.ingest.from_webhooks = hinted.from_webhooks
    result.released = release_held(ctx)
    result.routing = route_waiting(ctx)
    result.apply = _step(result, "apply", lambda: apply_pending(ctx), ApplyResult())
    result.sla = _step(result, "attempts", lambda: detect_attempts(ctx), SlaResult())
    breaches = escalate_breached(ctx)
    result.sla.breached, result.sla.reassigned = breaches.breached, breaches.reassigned
    result.sla.escalated = breaches.escalated
    if breaches.breached:
        more = _step(result, "apply", lambda: apply_pending(ctx), ApplyResult())
        result.apply.owners_written += more.owners_written
        result.apply.tasks_created += more.tasks_created
        result.apply.overridden += more.overridden
        result.apply.failed += more.failed
        result.apply.owner_latencies += more.owner_latencies
    log.info("cycle.done", crm=ctx.crm, duration_ms=round((time.monotonic() - started) * 1000),
             routed=result.routing.routed, held=result.routing.held,
             unroutable=result.routing.unroutable, written=result.apply.owners_written,
             created=result.apply.tasks_created, contacted=result.sla.contacted,
             breached=result.sla.breached, escalated=result.sla.escalated,
             overridden=result.apply.overridden + result.sla.overridden,
             failed=result.failed_steps or None)
    return result
