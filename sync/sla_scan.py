"""The response clock: detect contact attempts, then re-route or escalate breached leads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from connectors.base import AttemptQuery, batch_size
from routing import route
from routing.models import Decision, RosterState, Status, Step, TaskSpec
from state import (
    AuditKind,
    LeadRow,
    LeadStatus,
    OutboxKind,
    StoreUnavailable,
    UnitOfWork,
    outbox_key,
)
from sync.apply import mark_overridden
from sync.context import Context
from sync.logs import get_logger
from sync.route import lead_for, record_assignment, set_aside

log = get_logger("leadrouter.sla")
BATCH = 100
# the owner is in the CRM, so a contact attempt can be seen there
WATCHED = (LeadStatus.OWNER_WRITTEN, LeadStatus.TASK_CREATED, LeadStatus.ESCALATED_FINAL,
           LeadStatus.OVERRIDDEN)


# Leads the CRM still owes us an answer on: checked every scan until contacted. Leads handed
# to a person (overridden) or to the final owner are only measured, so only for a while.
OPEN = (LeadStatus.OWNER_WRITTEN, LeadStatus.TASK_CREATED)
WATCH_FOR = timedelta(days=14)


@dataclass
class SlaResult:
    contacted: int = 0
    overridden: int = 0
    breached: int = 0
    reassigned: int = 0
    escalated: int = 0
    within_sla: int = 0  # contact attempts made before the deadline


def _queries(ctx: Context, rows: list[LeadRow]) -> list[AttemptQuery]:
    """One attempt query per assigned lead, with its routing task's id (one store read)."""
    keys = {row.crm_id: outbox_key(row.crm_id, row.assignment, OutboxKind.TASK)
            for row in rows}
    with ctx.store.unit_of_work(read_only=True) as uow:
        task_ids = uow.outbox.done_results(keys.values())
    return [AttemptQuery(row.crm_id, row.assigned_at, row.crm_owner_id,
                         task_ids.get(keys[row.crm_id]))
            for row in rows if row.assigned_at is not None and row.crm_owner_id is not None]


def detect_attempts(ctx: Context) -> SlaResult:
    """Batch-read contact signals for every watched lead not yet contacted."""
    result = SlaResult()
    horizon = ctx.clock() - WATCH_FOR
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = [row for row in uow.leads.by_status(*WATCHED) if row.contacted_at is None
                and (row.status in OPEN or (row.assigned_at or horizon) > horizon)]
        for row in rows:
            uow.session.expunge(row)
    size = batch_size(ctx.connector, BATCH)
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        states = {s.crm_id: s for s in ctx.connector.contact_attempts(_queries(ctx, chunk))}
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            for row in chunk:
                state = states.get(row.crm_id)
                if state is None:
                    continue
                if state.attempted_at is not None:
                    within = _contacted(ctx, uow, row, state.attempted_at, state.signal, now)
                    result.contacted += 1
                    result.within_sla += int(within)
                elif (row.status != LeadStatus.OVERRIDDEN and state.owner_id
                      and state.owner_id != row.crm_owner_id):
                    mark_overridden(ctx, uow, row.crm_id, state.owner_id, now)
                    result.overridden += 1
            uow.commit()
    return result


def _contacted(ctx: Context, uow: UnitOfWork, row: LeadRow, at: datetime, signal: str | None,
               now: datetime) -> bool:
    within = row.sla_due is None or at <= row.sla_due
    status = LeadStatus.OVERRIDDEN if row.status == LeadStatus.OVERRIDDEN else (
        LeadStatus.ESCALATED_FINAL if row.status == LeadStatus.ESCALATED_FINAL
        else LeadStatus.CONTACTED)
    uow.leads.update(ctx.crm, row.crm_id, status=status, contacted_at=at, now=now)
    uow.audit.add(ctx.crm, row.crm_id, AuditKind.CONTACT_ATTEMPT, now, coordinator=row.owner,
                  detail={"at": at.isoformat(), "signal": signal, "within_sla": within})
    log.info("lead.contacted", crm=ctx.crm, lead=row.crm_id, owner=row.owner,
             reason=signal, status="within_sla" if within else "late")
    return within


def _final(ctx: Context, decision: Decision, now: datetime) -> Decision:
    """Hand the lead to the final owner (the supervisor), with a task due now + SLA."""
    book = ctx.config.rulebook
    final = ctx.config.escalation.final_owner or book.fallback_owner
    due = now + book.default_sla
    task = TaskSpec(subject=f"Escalated lead {decision.lead_id}: no contact within SLA",
                    due=due, priority="HIGH", type=book.task.type)
    step = Step("escalated", f"reassignment limit reached or nobody eligible: final owner "
                f"{final}", final)
    return replace(decision, status=Status.ASSIGNED, owner=final, sla_due=due, task=task,
                   reason=f"escalated_final:{final}",
                   explanation=(*decision.explanation, step))


def escalate_breached(ctx: Context) -> SlaResult:
    """Leads past their deadline: re-route excluding everyone who failed them, up to
    `max_reassignments`; after that, to the final owner."""
    result = SlaResult()
    limit = ctx.config.escalation.max_reassignments
    while True:
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            rows = uow.leads.due_for_sla(now, limit=BATCH, lock=True)
            if not rows:
                break
            roster: RosterState = uow.pointers.load_roster(ctx.directory.unavailable)
            for row in rows:
                try:
                    with uow.savepoint():
                        roster = _escalate_one(uow, ctx, row, roster, now, limit, result)
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    set_aside(uow, ctx, row.crm_id, f"escalation failed ({type(exc).__name__})",
                              now)
            uow.commit()
    return result


def _escalate_one(uow: UnitOfWork, ctx: Context, row: LeadRow, roster: RosterState,
                  now: datetime, limit: int, result: SlaResult) -> RosterState:
    """Breach one lead and route it again (or hand it to the final owner)."""
    previous = row.owner
    uow.audit.add(ctx.crm, row.crm_id, AuditKind.BREACH, now, coordinator=previous,
                  rule=row.rule, detail={"sla_due": row.sla_due.isoformat()
                                         if row.sla_due else None})
    row = uow.leads.mark_breached(ctx.crm, row.crm_id, now=now)
    result.breached += 1
    decision = route(lead_for(ctx, row), ctx.config.rulebook, roster, now)
    final = row.reassignments >= limit or decision.status is not Status.ASSIGNED \
        or decision.owner not in ctx.directory.owner_of
    if final:
        decision = _final(ctx, decision, now)
    if decision.owner not in ctx.directory.owner_of:
        uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.ESCALATED_FINAL, now=now)
        log.error("lead.escalation_failed", crm=ctx.crm, lead=row.crm_id,
                  reason="no usable final owner")
        return roster
    assert decision.owner is not None
    if decision.pointer is not None and not final:
        uow.pointers.save_pointer(decision.pointer)
    record_assignment(uow, ctx, row, decision, decision.owner, now, kind=AuditKind.ESCALATION,
                      status=LeadStatus.ESCALATED_FINAL if final else LeadStatus.ROUTED)
    counts = dict(roster.open_counts)
    counts[decision.owner] = counts.get(decision.owner, 0) + 1
    result.escalated += int(final)
    result.reassigned += int(not final)
    return replace(roster, open_counts=counts)
