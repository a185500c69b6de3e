"""Route: each waiting lead gets a decision, and its CRM writes go to the outbox with it.

Decision, lead row, round-robin pointer and outbox rows commit in one transaction, so a
crash leaves either all of them or none (exactly-once effects, at-least-once execution).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from routing import apply_decision, route
from routing.models import Decision, Lead, RosterState, Status
from state import (
    AuditKind,
    LeadRow,
    LeadStatus,
    OutboxKind,
    StoreUnavailable,
    UnitOfWork,
    outbox_key,
    steps_detail,
)
from sync.context import Context
from sync.leads import make_lead
from sync.logs import get_logger

log = get_logger("leadrouter.route")
BATCH = 200


@dataclass
class RouteResult:
    routed: int = 0
    held: int = 0
    unroutable: int = 0
    set_aside: int = 0


def lead_for(ctx: Context, row: LeadRow) -> Lead:
    attributes = {k: str(v) for k, v in (row.attributes or {}).items()}
    return make_lead(row.crm_id, row.created_at, MappingProxyType(attributes), ctx.config,
                     previous_owner=row.previous_owner, excluded=frozenset(row.excluded or ()))


def replaceable_owners(ctx: Context, row: LeadRow) -> list[str | None]:
    """Owners a write may replace: none, a placeholder, or the owner we wrote before."""
    settings = ctx.config.hubspot if ctx.crm == "hubspot" else ctx.config.salesforce
    placeholders = list(settings.placeholder_owners) if settings else []
    ours = [row.crm_owner_id] if row.crm_owner_id else []
    return [None, *placeholders, *ours]


def metadata(ctx: Context, decision: Decision, now: datetime) -> dict[str, str]:
    settings = ctx.config.hubspot if ctx.crm == "hubspot" else ctx.config.salesforce
    names = (getattr(settings, "metadata_properties", None)
             or getattr(settings, "metadata_fields", None) or {})
    values = {"rule": decision.rule or "", "coordinator": decision.owner or "",
              "routed_at": now.astimezone(UTC).isoformat(),
              "sla_due": decision.sla_due.astimezone(UTC).isoformat() if decision.sla_due
              else ""}
    return {prop: values[name] for name, prop in names.items() if values.get(name)}


def record_assignment(uow: UnitOfWork, ctx: Context, row: LeadRow, decision: Decision,
                      owner: str, now: datetime, *, kind: AuditKind = AuditKind.DECISION,
                      status: LeadStatus = LeadStatus.ROUTED) -> None:
    """Assign `owner` and queue the owner write and the task, all in this transaction."""
    owner_id = ctx.directory.owner_of[owner]
    replaceable = replaceable_owners(ctx, row)
    row = uow.leads.assign(ctx.crm, row.crm_id, owner=owner, crm_owner_id=owner_id,
                           rule=decision.rule, sla_due=decision.sla_due, now=now)
    if status is not LeadStatus.ROUTED:
        row = uow.leads.update(ctx.crm, row.crm_id, status=status, now=now)
    uow.outbox.enqueue(outbox_key(row.crm_id, row.assignment, OutboxKind.OWNER), ctx.crm,
                       row.crm_id, OutboxKind.OWNER,
                       {"owner_id": owner_id, "coordinator": owner,
                        "replaceable": replaceable,
                        "properties": metadata(ctx, decision, now)}, now=now)
    task = decision.task
    if task is not None:
        uow.outbox.enqueue(outbox_key(row.crm_id, row.assignment, OutboxKind.TASK), ctx.crm,
                           row.crm_id, OutboxKind.TASK,
                           {"owner_id": owner_id, "subject": task.subject,
                            "due": task.due.astimezone(UTC).isoformat(),
                            "priority": task.priority, "type": task.type}, now=now)
    uow.audit.add(ctx.crm, row.crm_id, kind, now, coordinator=owner, rule=decision.rule,
                  detail={**steps_detail(decision.explanation), "reason": decision.reason,
                          "assignment": row.assignment,
                          "sla_due": decision.sla_due.isoformat() if decision.sla_due else None})
    log.info("lead.routed" if kind is AuditKind.DECISION else "lead.escalated",
             crm=ctx.crm, lead=row.crm_id, owner=owner, rule=decision.rule,
             reason=decision.reason, assignment=row.assignment,
             sla_due=decision.sla_due.isoformat() if decision.sla_due else None)


def decide(uow: UnitOfWork, ctx: Context, row: LeadRow, roster: RosterState, now: datetime,
           result: RouteResult) -> RosterState:
    decision = route(lead_for(ctx, row), ctx.config.rulebook, roster, now)
    if decision.pointer is not None:
        uow.pointers.save_pointer(decision.pointer)
    if decision.status is Status.ASSIGNED and decision.owner in ctx.directory.owner_of:
        assert decision.owner is not None
        record_assignment(uow, ctx, row, decision, decision.owner, now)
        result.routed += 1
    elif decision.status is Status.HELD:
        uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.HELD,
                         held_until=decision.release_at, rule=decision.rule, now=now)
        uow.audit.add(ctx.crm, row.crm_id, AuditKind.HELD, now, rule=decision.rule,
                      detail={**steps_detail(decision.explanation), "reason": decision.reason,
                              "release_at": decision.release_at.isoformat()
                              if decision.release_at else None})
        log.info("lead.held", crm=ctx.crm, lead=row.crm_id, rule=decision.rule,
                 release_at=decision.release_at.isoformat() if decision.release_at else None)
        result.held += 1
    else:
        uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.UNROUTABLE,
                         rule=decision.rule, now=now)
        uow.audit.add(ctx.crm, row.crm_id, AuditKind.UNROUTABLE, now, rule=decision.rule,
                      detail={**steps_detail(decision.explanation), "reason": decision.reason})
        log.warning("lead.unroutable", crm=ctx.crm, lead=row.crm_id, rule=decision.rule,
                    reason=decision.reason)
        result.unroutable += 1
    return apply_decision(roster, decision)


def release_held(ctx: Context) -> int:
    """Held leads whose shift has started go back to `seen` to be routed now."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        rows = uow.leads.held_due(now, lock=True)
        for row in rows:
            uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.SEEN, held_until=None,
                             now=now)
            uow.audit.add(ctx.crm, row.crm_id, AuditKind.RELEASED, now)
        uow.commit()
    return len(rows)


def retry_unroutable(ctx: Context, *, roster_changed: bool = False) -> int:
    """Unroutable leads go back to `seen`, oldest first: all of them when the roster
    changed (a lead was contacted or handed on, someone came back, the service started),
    else those last tried at least an `escalation_interval` ago (a shift may have begun)."""
    now = ctx.clock()
    # a retried lead leaves `unroutable`, so each batch takes new rows until none are left
    before = None if roster_changed else now - ctx.config.service.escalation_interval
    retried = 0
    while True:
        with ctx.store.unit_of_work() as uow:
            rows = uow.leads.by_status(LeadStatus.UNROUTABLE, limit=BATCH,
                                       updated_before=before, lock=True)
            for row in rows:
                uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.SEEN, now=now)
                uow.audit.add(ctx.crm, row.crm_id, AuditKind.RETRY, now,
                              detail={"why": "roster changed" if roster_changed
                                      else "retried on schedule"})
            uow.commit()
        retried += len(rows)
        if len(rows) < BATCH:
            break
    if retried:
        log.info("lead.retry_unroutable", crm=ctx.crm, count=retried)
    return retried


def route_waiting(ctx: Context) -> RouteResult:
    """Route every lead in `seen`, a batch per transaction.

    The routing lock is taken before the leads are read, and the rows are held, so two
    workers can never both decide the same lead. A lead whose routing fails is set aside
    alone (its savepoint undone); the rest of its batch commits.
    """
    result = RouteResult()
    while True:
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            roster = uow.pointers.load_roster(ctx.directory.unavailable)
            rows = uow.leads.by_status(LeadStatus.SEEN, limit=BATCH, lock=True)
            if not rows:
                break
            for row in rows:
                try:
                    with uow.savepoint():
                        roster = decide(uow, ctx, row, roster, now, result)
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    set_aside(uow, ctx, row.crm_id, f"routing failed ({type(exc).__name__})",
                              now)
                    result.set_aside += 1
            uow.commit()
    return result


def set_aside(uow: UnitOfWork, ctx: Context, crm_id: str, reason: str, now: datetime) -> None:
    """Park one lead that a step could not handle, with the reason, so it blocks nobody."""
    uow.leads.update(ctx.crm, crm_id, status=LeadStatus.SET_ASIDE, now=now)
    uow.audit.add(ctx.crm, crm_id, AuditKind.SET_ASIDE, now, detail={"why": reason})
    log.error("lead.set_aside", crm=ctx.crm, lead=crm_id, reason=reason)
