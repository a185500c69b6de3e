"""Tasks: not idempotent. Each row is claimed with its attempt counted *before* the call,
so after a crash or an uncertain failure the next try looks for the task's marker
(`find_tasks`, which reads the CRM's records, not its lagging search index) before creating
again. While it looks and while its create is in flight the worker keeps its claim
(`sync.claims`), and right before sending the claim reaches a kept claim's lease from now
(set with the attempt count, in the unit that claimed the rows a moment before, or renewed
by compare-and-set after a lookup): no other worker takes a row, finds no task yet and
creates a second one while this worker's create may still be applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.base import AuthError, CrmError, TaskRequest, TaskResult
from state import (
    LeadRecord,
    LeadStatus,
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    UnitOfWork,
    outbox_key,
)
from sync.apply.common import (
    ApplyResult,
    backoff,
    call_crm,
    claim_rows,
    in_bulk,
    in_savepoint,
    record_failure,
)
from sync.batches import split_on_refusal
from sync.claims import KeptClaim, in_flight_lease
from sync.context import Context
from sync.intake.keys import FOLLOW_UP_PREFIX
from sync.lifecycle import Change, Fact, LeadEvent, transition_many


def _claim_ready(ctx: Context) -> tuple[list[OutboxItem], int]:
    """A batch of tasks claimed and, in the same unit, those whose owner write is done;
    others wait (no attempt counted), stale ones end. The ready ones' attempts are counted
    and their claim set to a kept claim's lease from now (`KeptClaim`). The batch's owner
    writes' statuses and its leads' assignments are read in one query each."""
    ready: list[OutboxItem] = []
    deferred = 0
    now = ctx.clock()
    until = now + in_flight_lease(ctx)
    with ctx.store.unit_of_work() as uow:
        rows = claim_rows(uow, ctx, OutboxKind.TASK, now)
        owners = uow.outbox.statuses(outbox_key(row.crm_id, row.assignment, OutboxKind.OWNER)
                                     for row in rows)
        leads = uow.leads.assignments(ctx.crm, [row.crm_id for row in rows])
        for row in rows:
            if row.key.startswith(FOLLOW_UP_PREFIX):
                # a follow-up for a record a person owns (email intake): no owner write
                ready.append(row)
                continue
            owner = owners.get(outbox_key(row.crm_id, row.assignment, OutboxKind.OWNER))
            lead = leads.get(row.crm_id)  # (assignment, status)
            stale = lead is None or lead[0] != row.assignment or lead[1] in (
                LeadStatus.OVERRIDDEN, LeadStatus.SKIPPED)
            if stale or owner is None or owner in (OutboxStatus.CANCELLED, OutboxStatus.FAILED):
                uow.outbox.mark_done(row.id, "superseded", now=now)
            elif owner != OutboxStatus.DONE:
                uow.outbox.defer(row.id, now)  # not claimed after all: owner first
                deferred += 1
            else:
                ready.append(row)
        # counted before the call: after a crash or an uncertain answer the next try
        # searches for the task's marker before creating it
        attempts = uow.outbox.count_attempts((row.id for row in ready), claim_until=until)
        uow.commit()
    return [replace(row, attempts=attempts[row.id], next_attempt_at=until)
            for row in ready], deferred


@dataclass
class TaskFlight:
    """A claimed batch of tasks whose create call is under way (`send_tasks`): the claim is
    kept until `land_tasks` has the answer."""

    claim: KeptClaim
    tried: list[OutboxItem]
    found: Mapping[str, str]
    look_error: CrmError | None
    sent: list[OutboxItem]
    outcome: Future[Sequence[TaskResult]]


def apply_tasks(ctx: Context, result: ApplyResult) -> bool:
    """Claim a batch of tasks, create them and record the outcomes; False when none was
    ready."""
    flight = send_tasks(ctx, result)
    if flight is None:
        return False
    land_tasks(ctx, flight, result)
    return True


def send_tasks(ctx: Context, result: ApplyResult,
               pool: Executor | None = None) -> TaskFlight | None:
    """Claim a batch of tasks whose owner is written, keep the claim, look for those tried
    before, and make the create call: in `pool` (it runs while this thread does other
    work; `land_tasks` waits for it), or here and now."""
    ready, deferred = _claim_ready(ctx)
    result.deferred += deferred
    if not ready:
        return None
    claim = KeptClaim(ctx, ready).start()  # no one takes these rows while we are slow
    try:
        # tried before (a crash, an uncertain answer): the CRM may have the task already
        tried = [row for row in ready if row.attempts > 1]
        found: Mapping[str, str] = {}
        look_error: CrmError | None = None
        if tried:
            try:
                found = ctx.connector.find_tasks([_request(row) for row in tried])
            except CrmError as exc:
                look_error = exc
        unsure = {row.key for row in tried} if look_error else set()
        to_create = [row for row in ready if row.key not in found and row.key not in unsure]
        sent: list[OutboxItem] = []
        if to_create:
            # right before sending, the claim reaches a lease from now: as made a moment ago
            # with the rows, or renewed after the lookup (rows taken meanwhile are not ours)
            held = claim.renew() if tried else {row.id for row in to_create}
            sent = [row for row in to_create if row.id in held]
        # nothing to send: answered here and now, with no call and no thread
        outcome = call_crm(pool if sent else None, _create, ctx, sent)
    except BaseException:
        claim.stop()
        raise
    return TaskFlight(claim, tried, found, look_error, sent, outcome)


def _create(ctx: Context, sent: Sequence[OutboxItem]) -> Sequence[TaskResult]:
    if not sent:
        return []
    return split_on_refusal(
        lambda requests: ctx.connector.create_tasks(requests, check_existing=False),
        [_request(row) for row in sent],
        lambda request, exc: TaskResult(request.key, None, False, str(exc)))


def land_tasks(ctx: Context, flight: TaskFlight, result: ApplyResult) -> None:
    """Wait for a batch's create call, let go of the claim, and record the outcomes (a CRM
    error: on its rows; an auth error raised after both failures are recorded)."""
    try:
        outcome: Sequence[TaskResult] | CrmError = flight.outcome.result()
    except CrmError as exc:
        outcome = exc
    finally:
        flight.claim.stop()
    tried, found, sent = flight.tried, flight.found, flight.sent
    if found:
        _record(ctx, [row for row in tried if row.key in found], found, result,
                created=False)
    if sent and not isinstance(outcome, CrmError):
        created = {r.key: r.task_id for r in outcome if r.task_id is not None}
        _record(ctx, sent, created, result, created=True)
    auth: AuthError | None = None
    for rows_failed, error in ((tried, flight.look_error), (sent, outcome)):
        if isinstance(error, CrmError):
            try:
                record_failure(ctx, rows_failed, error)
            except AuthError as exc:  # both failures recorded first, then raised
                auth = exc
    if auth is not None:
        raise auth


def _request(row: OutboxItem) -> TaskRequest:
    task = row.task()
    return TaskRequest(row.key, row.crm_id, task.owner_id, task.subject, task.due,
                       task.priority, task.type)


def _record(ctx: Context, rows: list[OutboxItem], task_ids: Mapping[str, str],
            result: ApplyResult, *, created: bool) -> None:
    """Done rows (their task made now, or found from an earlier try); others failed."""
    now = ctx.clock()
    made = [(row, task_ids[row.key]) for row in rows if row.key in task_ids]
    with ctx.store.unit_of_work() as uow:
        done = in_bulk(uow, ctx, made, result,
                       lambda figures: _tasks_recorded(uow, ctx, made, created, now, figures))
        for row in rows:  # the others, one by one
            if row.id in done:
                continue
            task_id = task_ids.get(row.key)
            if task_id is None:
                uow.outbox.mark_failed(row.id, "task not created", now + backoff(row.attempts))
                result.failed += 1
                continue
            uow.outbox.mark_done(row.id, task_id, now=now)
            in_savepoint(uow, ctx, row, now, lambda row=row, task_id=task_id:  # type: ignore[misc]
                         _task_recorded(uow, ctx, row, task_id, created, now))
            result.tasks_created += 1
        uow.commit()


def _tasks_recorded(uow: UnitOfWork, ctx: Context, made: Sequence[tuple[OutboxItem, str]],
                    created: bool, now: datetime, result: ApplyResult) -> None:
    """`_task_recorded` of a batch of tasks that exist."""
    leads = uow.leads.get_many(ctx.crm, [row.crm_id for row, _ in made])
    uow.outbox.mark_done_many({row.id: task_id for row, task_id in made}, now=now)
    transition_many(uow, ctx, [_task_change(leads[row.crm_id], row, task_id, created)
                               for row, task_id in made if row.crm_id in leads], now)
    result.tasks_created += len(made)


def _task_recorded(uow: UnitOfWork, ctx: Context, row: OutboxItem, task_id: str,
                   created: bool, now: datetime) -> None:
    """The task exists: the lead moves on only if the task is its current assignment's."""
    lead = uow.leads.get(ctx.crm, row.crm_id)
    if lead is not None:
        transition_many(uow, ctx, [_task_change(lead, row, task_id, created)], now)


def _task_change(lead: LeadRecord, row: OutboxItem, task_id: str, created: bool) -> Change:
    task = row.task()
    facts: dict[str, Fact] = {"task_id": task_id, "found_existing": not created,
                              "due": task.due.isoformat()}
    # an older assignment's task is recorded, but does not move the current assignment on
    event = (LeadEvent.TASK_CREATED if lead.assignment == row.assignment
             else LeadEvent.EARLIER_TASK_CREATED)
    return Change(row.crm_id, event, coordinator=task.coordinator, facts=facts)
