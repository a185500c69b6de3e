"""One full cycle: ingest -> route -> apply -> contact attempts -> escalation -> apply.

Every step runs even when an earlier one failed: a failure is recorded and logged, never
allowed to skip the rest (pending work stays in the outbox and the cursor for the next cycle).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from connectors.base import AuthError, CrmError
from sync.apply import ApplyResult, apply_pending
from sync.context import Context
from sync.ingest import IngestResult, drain_inbox, poll, purge_inbox
from sync.logs import get_logger
from sync.route import RouteResult, release_held, retry_unroutable, route_waiting
from sync.sla_scan import SlaResult, detect_attempts, escalate_breached
from sync.tally import add_up

log = get_logger("leadrouter.cycle")
T = TypeVar("T")


@dataclass
class CycleResult:
    ingest: IngestResult = field(default_factory=IngestResult)
    routing: RouteResult = field(default_factory=RouteResult)
    apply: ApplyResult = field(default_factory=ApplyResult)
    sla: SlaResult = field(default_factory=SlaResult)
    released: int = 0
    retried: int = 0  # unroutable leads tried again
    failed_steps: list[str] = field(default_factory=list)  # steps stopped by errors
    auth_error: AuthError | None = None  # set: CRM steps were skipped, a person must act

    def summary(self) -> dict[str, Any]:
        return {name: asdict(value) if hasattr(value, "__dataclass_fields__") else value
                for name, value in vars(self).items() if name != "auth_error"}


def _step(result: CycleResult, name: str, step: Callable[[], T], empty: T, *,
          uses_crm: bool = True) -> T:
    """Run one step; whatever stops it ends this step only, never the cycle (the outbox and
    the cursor make that safe). After an auth error the CRM steps are skipped: a person must
    act, and the store-only steps (route, release) still run."""
    if uses_crm and result.auth_error is not None:
        return empty
    try:
        return step()
    except AuthError as exc:
        result.auth_error = exc
        result.failed_steps.append(name)
        return empty
    except CrmError as exc:
        result.failed_steps.append(name)
        log.warning("cycle.step_failed", job=name, error=str(exc), error_type=type(exc).__name__)
        return empty
    except Exception as exc:  # a bug or the store: logged without its message (may hold data)
        result.failed_steps.append(name)
        log.error("cycle.step_crashed", job=name, error_type=type(exc).__name__,
                  error=str(exc) if getattr(exc, "phi_safe", False) else None)
        return empty


def run_cycle(ctx: Context) -> CycleResult:
    """Everything `sync --once` promises. A CRM auth error is raised after the store-only
    steps have run: a person must act."""
    started = time.monotonic()
    result = CycleResult()
    result.ingest = _step(result, "poll", lambda: poll(ctx), IngestResult())
    add_up(result.ingest, _step(result, "inbox", lambda: drain_inbox(ctx), IngestResult()))
    _step(result, "purge", lambda: purge_inbox(ctx), 0, uses_crm=False)
    result.released = _step(result, "release", lambda: release_held(ctx), 0, uses_crm=False)
    # a cycle is a fresh start: the roster may have changed since the last one
    result.retried = _step(result, "retry", lambda: retry_unroutable(ctx, roster_changed=True),
                           0, uses_crm=False)
    result.routing = _step(result, "route", lambda: route_waiting(ctx), RouteResult(),
                           uses_crm=False)
    result.apply = _step(result, "apply", lambda: apply_pending(ctx), ApplyResult())
    result.sla = _step(result, "attempts", lambda: detect_attempts(ctx), SlaResult())
    breaches = _step(result, "escalate", lambda: escalate_breached(ctx), SlaResult(),
                     uses_crm=False)
    result.sla.breached, result.sla.reassigned = breaches.breached, breaches.reassigned
    result.sla.escalated = breaches.escalated
    if result.sla.contacted or result.sla.overridden:
        # capacity freed: unroutable leads get their chance in this cycle, not the next
        again = _step(result, "retry", lambda: retry_unroutable(ctx, roster_changed=True),
                      0, uses_crm=False)
        if again:
            result.retried += again
            add_up(result.routing, _step(result, "route", lambda: route_waiting(ctx),
                                         RouteResult(), uses_crm=False))
    if breaches.breached or result.retried:
        add_up(result.apply, _step(result, "apply", lambda: apply_pending(ctx), ApplyResult()))
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
