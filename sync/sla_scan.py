"""The response clock: detect contact attempts, then re-route or escalate breached leads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import AttemptQuery, AttemptState, attempts_since, batch_size
from routing import escalate
from routing.models import RosterState
from state import LeadRecord, LeadStatus, StoreUnavailable, UnitOfWork, WatchedLead
from sync.apply import mark_overridden
from sync.context import Context
from sync.lifecycle import LeadEvent, transition
from sync.logs import get_logger
from sync.route import assign_decided, in_batches, lead_for, set_aside

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


def _queries(ctx: Context, rows: Sequence[LeadRecord | WatchedLead]) -> list[AttemptQuery]:
    """One attempt query per assigned lead, with its routing task's id (one store read)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        task_ids = uow.outbox.task_results((row.crm_id, row.assignment) for row in rows)
    return [AttemptQuery(row.crm_id, row.assigned_at, row.crm_owner_id,
                         task_ids.get(row.crm_id))
            for row in rows if row.assigned_at is not None and row.crm_owner_id is not None]


def activity_cursor(ctx: Context) -> str:
    """The cursor (state/repos/cursors.py) holding the SLA scan's activity watermark."""
    return f"{ctx.crm}:activity"


def detect_attempts(ctx: Context) -> SlaResult:
    """Contact signals for every watched lead not yet contacted: by activity when the
    connector can (what changed in the CRM since the last scan, a constant number of calls
    however many leads are open), plus a batch read of the leads whose deadline comes before
    the next scan (search trails the CRM: a breach is only declared on a fresh read);
    otherwise a batch read of every watched lead."""
    result = SlaResult()
    now = ctx.clock()
    horizon = now - WATCH_FOR
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = [row for row in uow.leads.watched(*WATCHED) if row.contacted_at is None
                and (row.status in OPEN or (row.assigned_at or horizon) > horizon)]
        watermark = uow.cursors.get(activity_cursor(ctx))
    queries = _queries(ctx, rows)
    scan = attempts_since(ctx.connector, queries, watermark) if queries else None
    if scan is None or not scan.complete:
        _observe_all(ctx, [row.crm_id for row in rows], _read_states(ctx, queries), result)
    else:
        states = {s.crm_id: s for s in scan.states}
        soon = now + ctx.config.service.escalation_interval
        due = {row.crm_id for row in rows if row.status in OPEN and row.sla_due is not None
               and row.sla_due <= soon and row.crm_id not in states}
        states.update(_read_states(ctx, [q for q in queries if q.crm_id in due]))
        _observe_all(ctx, [row.crm_id for row in rows if row.crm_id in states], states,
                     result)
    if scan is not None and scan.watermark != watermark:
        with ctx.store.unit_of_work() as uow:  # after the observations: a failed scan repeats
            uow.cursors.set(activity_cursor(ctx), scan.watermark, now=ctx.clock())
            uow.commit()
    return result


def check_leads(ctx: Context, crm_ids: Sequence[str]) -> SlaResult:
    """A webhook hinted that someone acted on these leads: read those of them still
    watched now, in batches (the records themselves: the activity search trails them)."""
    result = SlaResult()
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = [row for row in uow.leads.get_many(ctx.crm, crm_ids).values()
                if row.status in WATCHED and row.contacted_at is None]
    queries = _queries(ctx, rows)
    if queries:
        _observe_all(ctx, [row.crm_id for row in rows], _read_states(ctx, queries), result)
    return result


def _read_states(ctx: Context, queries: list[AttemptQuery]) -> dict[str, AttemptState]:
    """`contact_attempts` in the connector's batches: one read per batch of leads."""
    size = batch_size(ctx.connector, BATCH)
    states: dict[str, AttemptState] = {}
    for start in range(0, len(queries), size):
        for state in ctx.connector.contact_attempts(queries[start:start + size]):
            states[state.crm_id] = state
    return states


def _observe_all(ctx: Context, crm_ids: list[str], states: Mapping[str, AttemptState],
                 result: SlaResult) -> None:
    """Record what the CRM shows, a transaction per batch (its leads read there: one that
    moved on since the scan began, contacted meanwhile say, is left alone); one lead's
    failure never drops the others."""
    for start in range(0, len(crm_ids), BATCH):
        chunk = [crm_id for crm_id in crm_ids[start:start + BATCH] if crm_id in states]
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            leads = uow.leads.get_many(ctx.crm, chunk)
            for crm_id in chunk:
                row = leads.get(crm_id)
                if row is None or row.status not in WATCHED or row.contacted_at is not None:
                    continue
                try:
                    with uow.savepoint():
                        _observe(ctx, uow, row, states[crm_id], now, result)
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    log.error("lead.attempt_check_failed", crm=ctx.crm, lead=crm_id,
                              error_type=type(exc).__name__)
            uow.commit()


def _observe(ctx: Context, uow: UnitOfWork, row: LeadRecord, state: AttemptState,
             now: datetime, result: SlaResult) -> None:
    """What the CRM shows for one watched lead: an attempt, or a person's owner."""
    if state.attempted_at is not None:
        within = _contacted(ctx, uow, row, state.attempted_at, state.signal, now)
        result.contacted += 1
        result.within_sla += int(within)
    elif (row.status != LeadStatus.OVERRIDDEN and state.owner_id
          and state.owner_id != row.crm_owner_id):
        mark_overridden(ctx, uow, row.crm_id, state.owner_id, now)
        result.overridden += 1


def _contacted(ctx: Context, uow: UnitOfWork, row: LeadRecord, at: datetime,
               signal: str | None, now: datetime) -> bool:
    within = row.sla_due is None or at <= row.sla_due
    transition(uow, ctx, row.crm_id, LeadEvent.CONTACTED, now, coordinator=row.owner,
               contacted_at=at,
               facts={"at": at.isoformat(), "signal": signal, "within_sla": within,
                      "status": "within_sla" if within else "late"})
    return within


def escalate_breached(ctx: Context) -> SlaResult:
    """Leads past their deadline: re-route excluding everyone who failed them, up to
    `max_reassignments`; after that, to the final owner."""
    result = SlaResult()
    limit = ctx.config.escalation.max_reassignments

    def failed(uow: UnitOfWork, row: LeadRecord, exc: Exception, now: datetime) -> None:
        set_aside(uow, ctx, row.crm_id, f"escalation failed ({type(exc).__name__})", now)

    in_batches(ctx, lambda uow, now: uow.leads.due_for_sla(now, limit=BATCH, lock=True),
               lambda uow, row, roster, now: _escalate_one(uow, ctx, row, roster, now, limit,
                                                           result),
               failed)
    return result


def _escalate_one(uow: UnitOfWork, ctx: Context, row: LeadRecord, roster: RosterState,
                  now: datetime, limit: int, result: SlaResult) -> RosterState:
    """Breach one lead and route it again (or hand it to the final owner)."""
    row = transition(uow, ctx, row.crm_id, LeadEvent.BREACHED, now, coordinator=row.owner,
                     rule=row.rule,
                     facts={"sla_due": row.sla_due.isoformat() if row.sla_due else None})
    result.breached += 1
    usable = frozenset(ctx.directory.owner_of)
    outcome = escalate(lead_for(ctx, row), ctx.config.rulebook, roster, now,
                       reassignments=row.reassignments, max_reassignments=limit,
                       final_owner=ctx.config.escalation.final_owner, usable=usable)
    decision, final = outcome.decision, outcome.final
    if decision.owner not in usable:
        transition(uow, ctx, row.crm_id, LeadEvent.ESCALATION_FAILED, now,
                   facts={"reason": "no usable final owner"})
        return roster
    result.escalated += int(final)
    result.reassigned += int(not final)
    return assign_decided(uow, ctx, row, decision, roster, now,
                          event=LeadEvent.ESCALATED_FINAL if final else LeadEvent.REASSIGNED)
