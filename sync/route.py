"""Route: each waiting lead gets a decision, and its CRM writes go to the outbox with it.

Decision, lead row, round-robin pointer and outbox rows commit in one transaction, so a
crash leaves either all of them or none (exactly-once effects, at-least-once execution).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

from routing import apply_decision, route
from routing.models import Decision, Lead, PointerUpdate, RosterState, Status
from state import (
    LeadRecord,
    LeadStatus,
    OwnerWritePayload,
    StoreUnavailable,
    TaskPayload,
    UnitOfWork,
    steps_detail,
)
from state.outbox_payloads import OutboxPayload
from sync.availability import away_now
from sync.batches import all_at_once
from sync.context import Context
from sync.intake.clock import ARRIVED_BY, EMAIL
from sync.lifecycle import Assignment, Change, Fact, LeadEvent, transition, transition_many
from sync.logs import get_logger
from sync.routing_input import make_lead
from sync.tally import add_up

log = get_logger("leadrouter.route")
BATCH = 200
T = TypeVar("T")


@dataclass
class RouteResult:
    routed: int = 0
    held: int = 0
    unroutable: int = 0
    set_aside: int = 0


def lead_for(ctx: Context, row: LeadRecord) -> Lead:
    # an email's lead: its first decision's SLA runs from the message's arrival (CONTRACTS
    # Part 4); later ones (after a hold, a breach) from the decision, like any lead's
    by_email = row.attributes.get(ARRIVED_BY) == EMAIL and row.first_reason is None
    return make_lead(row.crm_id, row.created_at, MappingProxyType(dict(row.attributes)),
                     ctx.config, previous_owner=row.previous_owner,
                     excluded=frozenset(row.excluded),
                     clock_from=row.created_at if by_email else None)


def replaceable_owners(ctx: Context, row: LeadRecord) -> tuple[str | None, ...]:
    """Owners a write may replace: none, a placeholder, or the owner we wrote before."""
    placeholders = sorted(ctx.connector.placeholder_owner_ids())
    ours = [row.crm_owner_id] if row.crm_owner_id else []
    return (None, *placeholders, *ours)


def metadata(ctx: Context, decision: Decision, now: datetime) -> dict[str, str]:
    """The routing facts written back beside the owner, under the CRM's property names."""
    names = ctx.connector.metadata_properties()
    values = {"rule": decision.rule or "", "coordinator": decision.owner or "",
              "routed_at": now.astimezone(UTC).isoformat(),
              "sla_due": decision.sla_due.astimezone(UTC).isoformat() if decision.sla_due
              else ""}
    return {prop: values[name] for name, prop in names.items() if values.get(name)}


def after_hours(decision: Decision) -> str | None:
    """How a decision that found nobody on shift handled the lead; None if someone was."""
    if not any(step.kind == "after_hours" for step in decision.explanation):
        return None
    if decision.status is Status.HELD:
        return "held"
    if decision.status is not Status.ASSIGNED:
        return "unroutable"
    return "on_call" if decision.reason.startswith("on_call:") else "assigned"


def passed_over(decision: Decision) -> dict[str, str]:
    """Coordinators the decision skipped -> why (the category its step starts with)."""
    return {step.coordinator: step.detail.split(" ", 1)[0][:24]
            for step in decision.explanation if step.kind == "skipped" and step.coordinator}


def decision_facts(decision: Decision) -> dict[str, Fact]:
    """What the lead events keep of a decision: its reason, how an after-hours arrival was
    handled and whom it passed over -- ids and categories, never what the lead carried."""
    return {"reason": decision.reason, "after_hours": after_hours(decision),
            "passed_over": passed_over(decision) or None}


def record_assignment(uow: UnitOfWork, ctx: Context, row: LeadRecord, decision: Decision,
                      owner: str, now: datetime, *,
                      event: LeadEvent = LeadEvent.ROUTED,
                      facts: Mapping[str, Fact] | None = None, **fields: Any) -> None:
    """Assign `owner` and queue the owner write and the task, all in this transaction.
    `facts` add to the decision's on the event; `fields` are other lead fields it sets."""
    change = assignment_change(ctx, decision, owner, row.crm_id, event=event, facts=facts,
                               fields=fields)
    updated = transition_many(uow, ctx, [change], now)[0]
    queue_writes(uow, ctx, [(updated, decision, replaceable_owners(ctx, row))], now)


def assignment_change(ctx: Context, decision: Decision, owner: str, crm_id: str, *,
                      event: LeadEvent = LeadEvent.ROUTED,
                      facts: Mapping[str, Fact] | None = None,
                      fields: Mapping[str, Any] | None = None) -> Change:
    """The lifecycle change that assigns `owner` by `decision`."""
    sla_due = decision.sla_due.isoformat() if decision.sla_due else None
    return Change(crm_id, event,
                  assignment=Assignment(owner, ctx.directory.owner_of[owner], decision.rule,
                                        decision.sla_due),
                  facts={**decision_facts(decision), "sla_due": sla_due, **(facts or {})},
                  explanation=steps_detail(decision.explanation), fields=dict(fields or {}))


def queue_writes(uow: UnitOfWork, ctx: Context,
                 assigned: Sequence[tuple[LeadRecord, Decision, tuple[str | None, ...]]],
                 now: datetime) -> None:
    """The owner write and the task of each (lead as assigned, decision, owners the write
    may replace), a lead's owner write before its task, in one statement."""
    writes: list[tuple[str, int, OutboxPayload]] = []
    for lead, decision, replaceable in assigned:
        owner = lead.owner
        assert owner is not None
        owner_id = ctx.directory.owner_of[owner]
        writes.append((lead.crm_id, lead.assignment,
                       OwnerWritePayload(owner_id, owner, replaceable,
                                         metadata(ctx, decision, now))))
        task = decision.task
        if task is not None:
            writes.append((lead.crm_id, lead.assignment,
                           TaskPayload(owner_id, task.subject, task.due, task.priority,
                                       task.type, owner)))
    uow.outbox.enqueue_many_for(ctx.crm, writes, now=now)


def decide(uow: UnitOfWork, ctx: Context, row: LeadRecord, roster: RosterState, now: datetime,
           result: RouteResult) -> RosterState:
    return decide_many(uow, ctx, [row], roster, now, result)


def decide_many(uow: UnitOfWork, ctx: Context, rows: Sequence[LeadRecord],
                roster: RosterState, now: datetime, result: RouteResult) -> RosterState:
    """Route each of `rows` in order (each decision sees the ones before it), then write
    them together: the pointers, the lifecycle changes and the CRM writes they queue."""
    changes: list[Change] = []
    assigned: list[tuple[int, Decision, tuple[str | None, ...]]] = []
    pointers: dict[str, PointerUpdate] = {}
    figures = RouteResult()
    for row in rows:
        decision = route(lead_for(ctx, row), ctx.config.rulebook, roster, now)
        if decision.pointer is not None:
            pointers[decision.pointer.key] = _merged(pointers.get(decision.pointer.key),
                                                     decision.pointer)
        if decision.status is Status.ASSIGNED and decision.owner in ctx.directory.owner_of:
            assert decision.owner is not None
            assigned.append((len(changes), decision, replaceable_owners(ctx, row)))
            changes.append(assignment_change(ctx, decision, decision.owner, row.crm_id))
            figures.routed += 1
        elif decision.status is Status.HELD:
            release_at = decision.release_at.isoformat() if decision.release_at else None
            changes.append(Change(row.crm_id, LeadEvent.HELD, rule=decision.rule,
                                  facts={**decision_facts(decision), "release_at": release_at},
                                  explanation=steps_detail(decision.explanation),
                                  fields={"held_until": decision.release_at}))
            figures.held += 1
        else:
            changes.append(Change(row.crm_id, LeadEvent.UNROUTABLE, rule=decision.rule,
                                  facts=decision_facts(decision),
                                  explanation=steps_detail(decision.explanation)))
            figures.unroutable += 1
        roster = apply_decision(roster, decision)
    for pointer in pointers.values():
        uow.pointers.save_pointer(pointer)
    updated = transition_many(uow, ctx, changes, now)
    queue_writes(uow, ctx, [(updated[i], decision, replaceable)
                            for i, decision, replaceable in assigned], now)
    add_up(result, figures)
    return roster


def _merged(before: PointerUpdate | None, after: PointerUpdate) -> PointerUpdate:
    """Two updates of one pointer as one: a field the later one leaves None keeps the
    earlier one's value (as two saves in a row would)."""
    if before is None:
        return after
    return replace(before,
                   last_assigned=after.last_assigned if after.last_assigned is not None
                   else before.last_assigned,
                   weights=after.weights if after.weights is not None else before.weights)


def release_held(ctx: Context) -> int:
    """Held leads whose shift has started go back to `seen` to be routed now."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        rows = uow.leads.held_due(now, lock=True)
        for row in rows:
            transition(uow, ctx, row.crm_id, LeadEvent.RELEASED, now, held_until=None)
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
                transition(uow, ctx, row.crm_id, LeadEvent.RETRIED, now,
                           facts={"why": "roster changed" if roster_changed
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
    workers can never both decide the same lead. A batch is decided and written together;
    if that fails it is undone and decided again lead by lead, and a lead whose routing
    fails is set aside alone (its savepoint undone); the rest of its batch commits.
    """
    result = RouteResult()

    def failed(uow: UnitOfWork, row: LeadRecord, exc: Exception, now: datetime) -> None:
        set_aside(uow, ctx, row.crm_id, f"routing failed ({type(exc).__name__})", now)
        result.set_aside += 1

    in_batches(ctx, lambda uow, now: uow.leads.by_status(LeadStatus.SEEN, limit=BATCH,
                                                         lock=True),
               lambda uow, row, roster, now: decide(uow, ctx, row, roster, now, result),
               failed,
               lambda uow, rows, roster, now: decide_many(uow, ctx, rows, roster, now, result),
               limit=BATCH)
    return result


def in_batches(ctx: Context, fetch: Callable[[UnitOfWork, datetime], Sequence[T]],
               handle: Callable[[UnitOfWork, T, RosterState, datetime], RosterState],
               failed: Callable[[UnitOfWork, T, Exception, datetime], None],
               handle_all: Callable[[UnitOfWork, Sequence[T], RosterState, datetime],
                                    RosterState] | None = None,
               limit: int | None = None) -> None:
    """Decide rows a batch per transaction until `fetch` finds none, or, given the `limit`
    it fetches by, until it finds fewer (the rest came after it looked: the next run's).

    The roster is loaded first (it takes the routing lock), then the batch, held. With
    `handle_all` the batch is first decided at once, in a savepoint; if that raises it is
    undone and each row runs in its own savepoint: one that raises is undone and handed to
    `failed`, the rest of its batch commits. A store that is gone ends the run.
    """
    while True:
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            roster = uow.pointers.load_roster(away_now(uow, ctx, now))
            rows = fetch(uow, now)
            if not rows:
                break
            if handle_all is None or not all_at_once(
                    uow, partial(handle_all, uow, rows, roster, now),
                    what="route.batch_decided_one_by_one", crm=ctx.crm, count=len(rows)):
                for row in rows:
                    try:
                        with uow.savepoint():
                            roster = handle(uow, row, roster, now)
                    except StoreUnavailable:
                        raise
                    except Exception as exc:
                        failed(uow, row, exc, now)
            uow.commit()
        if limit is not None and len(rows) < limit:
            break  # no unit (and routing lock) taken only to find nothing


def assign_decided(uow: UnitOfWork, ctx: Context, row: LeadRecord, decision: Decision,
                   roster: RosterState, now: datetime, *, event: LeadEvent,
                   facts: Mapping[str, Fact] | None = None, **fields: Any) -> RosterState:
    """An escalation's decision: its pointer saved, the assignment recorded, and the roster
    counting the new owner's lead (for the next decision of the batch)."""
    assert decision.owner is not None
    if decision.pointer is not None:
        uow.pointers.save_pointer(decision.pointer)
    record_assignment(uow, ctx, row, decision, decision.owner, now, event=event, facts=facts,
                      **fields)
    counts = dict(roster.open_counts)
    counts[decision.owner] = counts.get(decision.owner, 0) + 1
    return replace(roster, open_counts=counts)


def set_aside(uow: UnitOfWork, ctx: Context, crm_id: str, reason: str, now: datetime) -> None:
    """Park one lead that a step could not handle, with the reason, so it blocks nobody."""
    transition(uow, ctx, crm_id, LeadEvent.SET_ASIDE, now, facts={"why": reason})

