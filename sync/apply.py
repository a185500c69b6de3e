"""Apply: perform the outbox's CRM writes, outside any transaction, and record the outcome.

Owner writes are idempotent and compare-before-write. Task creation is not idempotent:
each row is claimed with its attempt counted *before* the call, so after a crash or an
uncertain failure the next try looks for the task's marker (`find_tasks`, which reads the
CRM's records, not its lagging search index) before creating again. While it looks and
while its create is in flight the worker keeps its claim (`sync.claims`), and it renews
the claim (compare-and-set) right before sending: no other worker takes a row, finds no
task yet and creates a second one while this worker's create may still be applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    AuthError,
    CrmError,
    FatalError,
    OwnerWrite,
    OwnerWriteResult,
    TaskRequest,
    TaskResult,
    WriteOutcome,
    batch_size,
)
from state import (
    LeadRecord,
    LeadStatus,
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    StoreUnavailable,
    UnitOfWork,
    outbox_key,
)
from sync.batches import split_on_refusal
from sync.claims import KeptClaim
from sync.context import Context
from sync.intake.keys import FOLLOW_UP_PREFIX
from sync.lifecycle import Change, Fact, LeadEvent, transition, transition_many
from sync.logs import get_logger
from sync.tally import add_up

log = get_logger("leadrouter.apply")
BATCH = 100
MAX_ATTEMPTS = 12


@dataclass
class ApplyResult:
    owners_written: int = 0
    overridden: int = 0
    tasks_created: int = 0
    failed: int = 0
    deferred: int = 0
    # seconds from lead creation to its first owner written (metrics: time to owner)
    owner_latencies: list[float] = field(default_factory=list)

    @property
    def progressed(self) -> bool:
        """Something was written or settled (tasks only deferred behind an owner write that
        is backing off are not progress: they would come round again at once)."""
        return bool(self.owners_written or self.tasks_created or self.overridden
                    or self.failed)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 2.0 ** min(attempts, 8)))


def _owner_batch(ctx: Context) -> int:
    """Owner writes per `write_owners` call: the connector's optional `owner_batch_size`
    (several write calls behind one compare read), else its batch size."""
    size = getattr(ctx.connector, "owner_batch_size", None)
    return size if isinstance(size, int) and size > 0 else batch_size(ctx.connector, BATCH)


def _claim(ctx: Context, kind: OutboxKind) -> list[OutboxItem]:
    now = ctx.clock()
    size = _owner_batch(ctx) if kind == OutboxKind.OWNER else batch_size(ctx.connector, BATCH)
    with ctx.store.unit_of_work() as uow:
        rows = uow.outbox.claim(size, now, lease=ctx.config.service.claim_lease, kind=kind)
        uow.commit()
    return rows


def _fail(ctx: Context, rows: Sequence[OutboxItem], error: CrmError) -> None:
    """Retriable: try again later. Fatal: give up on these rows. Auth: re-raise."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            gave_up = isinstance(error, FatalError) or row.attempts >= MAX_ATTEMPTS
            retry_at = None if gave_up else now + _backoff(row.attempts)
            uow.outbox.mark_failed(row.id, str(error), retry_at)
            if gave_up:
                _gave_up(uow, ctx, row, str(error), now)
        uow.commit()
    log.warning("outbox.failed", crm=ctx.crm, kind=rows[0].kind if rows else None,
                count=len(rows), error=str(error), error_type=type(error).__name__)
    if isinstance(error, AuthError):
        raise error


def apply_owners(ctx: Context, result: ApplyResult) -> bool:
    rows = _claim(ctx, OutboxKind.OWNER)
    if not rows:
        return False
    payloads = {row.id: row.owner_write() for row in rows}
    writes = [OwnerWrite(row.crm_id, payloads[row.id].owner_id,
                         frozenset(payloads[row.id].replaceable),
                         dict(payloads[row.id].properties)) for row in rows]
    try:
        outcomes = {r.crm_id: r for r in split_on_refusal(
            ctx.connector.write_owners, writes,
            lambda w, exc: OwnerWriteResult(w.crm_id, WriteOutcome.REJECTED, error=str(exc)))}
    except CrmError as exc:
        _fail(ctx, rows, exc)
        return True
    now = ctx.clock()
    written = [(row, outcomes[row.crm_id]) for row in rows if row.crm_id in outcomes
               and outcomes[row.crm_id].outcome in (WriteOutcome.WRITTEN, WriteOutcome.ALREADY)]
    with ctx.store.unit_of_work() as uow:
        if not _in_bulk(uow, ctx, written, result,
                        lambda figures: _owners_written(uow, ctx, written, now, figures)):
            written = []  # recorded one by one below
        done = {row.id for row, _ in written}
        for row in rows:
            if row.id in done:
                continue
            outcome = outcomes.get(row.crm_id)
            if outcome is None or outcome.outcome is WriteOutcome.REJECTED:
                error = outcome.error if outcome and outcome.error else "owner write rejected"
                uow.outbox.mark_failed(row.id, error, now + _backoff(row.attempts + 1)
                                       if row.attempts < 3 else None)
                result.failed += 1
                continue
            _in_savepoint(uow, ctx, row, now, lambda row=row, outcome=outcome:  # type: ignore[misc]
                          _owner_outcome(uow, ctx, row, outcome, now, result))
        uow.commit()
    return True


def _in_bulk(uow: UnitOfWork, ctx: Context, rows: Sequence[Any], result: ApplyResult,
             record: Callable[[ApplyResult], None]) -> bool:
    """Record the outcomes of `rows` together (a few statements for the batch); False when
    they cannot be (a lead twice among them, or an error: undone), for the caller to
    record them one by one, each on its own (see `_in_savepoint`)."""
    if not rows:
        return True
    crm_ids = [row.crm_id for row, *_ in rows]
    if len(set(crm_ids)) != len(crm_ids):
        return False
    figures = ApplyResult()
    try:
        with uow.savepoint():
            record(figures)
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.warning("outbox.batch_recorded_one_by_one", crm=ctx.crm, count=len(rows),
                    error_type=type(exc).__name__)
        return False
    add_up(result, figures)
    return True


def _owners_written(uow: UnitOfWork, ctx: Context,
                    written: Sequence[tuple[OutboxItem, OwnerWriteResult]], now: datetime,
                    result: ApplyResult) -> None:
    """`_owner_outcome` of a batch whose owners the CRM has (written, or there already)."""
    leads = uow.leads.get_many(ctx.crm, [row.crm_id for row, _ in written])
    uow.outbox.mark_done_many({row.id: outcome.outcome.value for row, outcome in written},
                              now=now)
    moved: list[tuple[LeadRecord, Change, bool]] = []
    for row, outcome in written:
        lead = leads.get(row.crm_id)
        if lead is not None:
            payload = row.owner_write()
            moved.append((lead, *_owner_change(lead, lead.assignment == row.assignment,
                                               payload.coordinator, payload.owner_id,
                                               outcome.outcome.value, row.assignment, now)))
    updated = transition_many(uow, ctx, [change for _, change, _ in moved], now)
    for (lead, _, moves), after in zip(moved, updated, strict=True):
        _owner_latency(lead, after, moves, now, result)
    result.owners_written += len(written)


def _owner_outcome(uow: UnitOfWork, ctx: Context, row: OutboxItem, outcome: OwnerWriteResult,
                   now: datetime, result: ApplyResult) -> None:
    lead = uow.leads.get(ctx.crm, row.crm_id)
    current = lead is not None and lead.assignment == row.assignment
    payload = row.owner_write()
    if outcome.outcome in (WriteOutcome.WRITTEN, WriteOutcome.ALREADY):
        uow.outbox.mark_done(row.id, outcome.outcome.value, now=now)
        if lead is not None:
            _owner_written(uow, ctx, lead, current, payload.coordinator, payload.owner_id,
                           outcome.outcome.value, row.assignment, now, result)
        result.owners_written += 1
    elif outcome.outcome is WriteOutcome.OVERRIDDEN:
        uow.outbox.mark_done(row.id, "overridden", now=now)
        if current:
            mark_overridden(ctx, uow, row.crm_id, outcome.current_owner, now)
        result.overridden += 1
    else:  # MISSING: deleted or merged in the CRM
        uow.outbox.mark_done(row.id, "missing", now=now)
        uow.outbox.cancel_for_lead(ctx.crm, row.crm_id)
        if current:
            transition(uow, ctx, row.crm_id, LeadEvent.RECORD_MISSING, now,
                       facts={"why": "the record no longer exists in the CRM"})


def _owner_written(uow: UnitOfWork, ctx: Context, lead: LeadRecord, current: bool,
                   coordinator: str, owner_id: str, outcome: str, assignment: int,
                   now: datetime, result: ApplyResult) -> None:
    """The CRM has the owner: the clock's owner is in place (recorded for any assignment)."""
    change, moves = _owner_change(lead, current, coordinator, owner_id, outcome, assignment,
                                  now)
    _owner_latency(lead, transition_many(uow, ctx, [change], now)[0], moves, now, result)


def _owner_change(lead: LeadRecord, current: bool, coordinator: str, owner_id: str,
                  outcome: str, assignment: int, now: datetime) -> tuple[Change, bool]:
    """The lead's `owner_written` event, and whether it moves the lead's clock on."""
    moves = current and lead.status in (LeadStatus.ROUTED, LeadStatus.REASSIGNED,
                                        LeadStatus.ESCALATED_FINAL)
    fields: dict[str, Any] = {"owner_written_at": now} if moves else {}
    return Change(lead.crm_id, LeadEvent.OWNER_WRITTEN, coordinator=coordinator or None,
                  facts={"crm_owner": owner_id, "outcome": outcome,
                         "for_assignment": assignment}, fields=fields), moves


def _owner_latency(lead: LeadRecord, updated: LeadRecord, moves: bool, now: datetime,
                   result: ApplyResult) -> None:
    """A first owner written for a lead's first assignment: its time to owner, measured."""
    if moves and lead.reassignments == 0 and updated.status == LeadStatus.OWNER_WRITTEN:
        result.owner_latencies.append(max(0.0, (now - lead.created_at).total_seconds()))


def _in_savepoint(uow: UnitOfWork, ctx: Context, row: OutboxItem, now: datetime,
                  record: Callable[[], None]) -> None:
    """Record one row's outcome alone: a failure of our own code (an illegal transition, a
    bug) gives that row up with the reason, and never loses the rest of the batch."""
    try:
        with uow.savepoint():
            record()
    except StoreUnavailable:
        raise
    except Exception as exc:
        reason = f"recording the outcome failed ({type(exc).__name__})"
        uow.outbox.mark_failed(row.id, reason, None)
        with uow.savepoint():
            _gave_up(uow, ctx, row, reason, now)
        log.error("outbox.record_failed", crm=ctx.crm, lead=row.crm_id, kind=row.kind,
                  error_type=type(exc).__name__)


def _gave_up(uow: UnitOfWork, ctx: Context, row: OutboxItem, error: str,
             now: datetime) -> None:
    if uow.leads.get(ctx.crm, row.crm_id) is not None:
        transition(uow, ctx, row.crm_id, LeadEvent.WRITE_FAILED, now,
                   facts={"write": row.kind, "error": error})


def mark_overridden(ctx: Context, uow: UnitOfWork, crm_id: str, crm_owner: str | None,
                    now: datetime) -> None:
    """A person chose another owner: respect it, stop reassigning, keep measuring."""
    uow.outbox.cancel_for_lead(ctx.crm, crm_id)
    transition(uow, ctx, crm_id, LeadEvent.OVERRIDDEN, now,
               coordinator=ctx.directory.coordinator_of.get(crm_owner or ""),
               facts={"crm_owner": crm_owner, "why": "a person set another owner"})


def _ready_tasks(ctx: Context, rows: list[OutboxItem]) -> tuple[list[OutboxItem], int]:
    """Tasks whose owner write is done; others wait (no attempt counted), stale ones end.
    The batch's owner rows and leads are read in one query each."""
    ready: list[OutboxItem] = []
    deferred = 0
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        owners = uow.outbox.by_keys(outbox_key(row.crm_id, row.assignment, OutboxKind.OWNER)
                                    for row in rows)
        leads = uow.leads.get_many(ctx.crm, [row.crm_id for row in rows])
        for row in rows:
            if row.key.startswith(FOLLOW_UP_PREFIX):
                # a follow-up for a record a person owns (email intake): no owner write
                ready.append(row)
                continue
            owner_row = owners.get(outbox_key(row.crm_id, row.assignment, OutboxKind.OWNER))
            lead = leads.get(row.crm_id)
            stale = lead is None or lead.assignment != row.assignment or lead.status in (
                LeadStatus.OVERRIDDEN, LeadStatus.SKIPPED)
            if stale or owner_row is None or owner_row.status in (OutboxStatus.CANCELLED,
                                                                  OutboxStatus.FAILED):
                uow.outbox.mark_done(row.id, "superseded", now=now)
            elif owner_row.status != OutboxStatus.DONE:
                uow.outbox.defer(row.id, now)  # not claimed after all: owner first
                deferred += 1
            else:
                ready.append(row)
        # counted before the call: after a crash or an uncertain answer the next try
        # searches for the task's marker before creating it
        attempts = uow.outbox.count_attempts(row.id for row in ready)
        uow.commit()
    return [replace(row, attempts=attempts[row.id]) for row in ready], deferred


def apply_tasks(ctx: Context, result: ApplyResult) -> bool:
    rows = _claim(ctx, OutboxKind.TASK)
    if not rows:
        return False
    ready, deferred = _ready_tasks(ctx, rows)
    result.deferred += deferred
    if not ready:
        return False
    # tried before (a crash, an uncertain answer): the CRM may have the task already
    tried = [row for row in ready if row.attempts > 1]
    found: Mapping[str, str] = {}
    look_error: CrmError | None = None
    sent: list[OutboxItem] = []
    outcome: Sequence[TaskResult] | CrmError = []
    with KeptClaim(ctx, ready) as claim:  # no one takes these rows while we are slow
        if tried:
            try:
                found = ctx.connector.find_tasks([_request(row) for row in tried])
            except CrmError as exc:
                look_error = exc
        unsure = {row.key for row in tried} if look_error else set()
        to_create = [row for row in ready if row.key not in found and row.key not in unsure]
        if to_create:
            held = claim.renew()  # right before sending; rows taken meanwhile are not ours
            sent = [row for row in to_create if row.id in held]
        if sent:
            try:
                outcome = split_on_refusal(
                    lambda requests: ctx.connector.create_tasks(requests,
                                                                check_existing=False),
                    [_request(row) for row in sent],
                    lambda request, exc: TaskResult(request.key, None, False, str(exc)))
            except CrmError as exc:
                outcome = exc
    if found:
        _record(ctx, [row for row in tried if row.key in found], found, result,
                created=False)
    if sent and not isinstance(outcome, CrmError):
        created = {r.key: r.task_id for r in outcome if r.task_id is not None}
        _record(ctx, sent, created, result, created=True)
    auth: AuthError | None = None
    for rows_failed, error in ((tried, look_error), (sent, outcome)):
        if isinstance(error, CrmError):
            try:
                _fail(ctx, rows_failed, error)
            except AuthError as exc:  # both failures recorded first, then raised
                auth = exc
    if auth is not None:
        raise auth
    return True


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
        if not _in_bulk(uow, ctx, made, result,
                        lambda figures: _tasks_recorded(uow, ctx, made, created, now, figures)):
            made = []  # recorded one by one below
        done = {row.id for row, _ in made}
        for row in rows:
            if row.id in done:
                continue
            task_id = task_ids.get(row.key)
            if task_id is None:
                uow.outbox.mark_failed(row.id, "task not created", now + _backoff(row.attempts))
                result.failed += 1
                continue
            uow.outbox.mark_done(row.id, task_id, now=now)
            _in_savepoint(uow, ctx, row, now, lambda row=row, task_id=task_id:  # type: ignore[misc]
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


def _progress(result: ApplyResult) -> int:
    return (result.owners_written + result.overridden + result.tasks_created
            + result.failed)


def apply_pending(ctx: Context, *, rounds: int | None = 20) -> ApplyResult:
    """Owner writes first, then the tasks whose owner is written; repeat while work is due
    (at most `rounds` times; None: until a round finds nothing due or gets nothing done,
    so tasks waiting on an owner write that is backing off do not spin)."""
    result = ApplyResult()
    done = 0
    while rounds is None or rounds > 0:
        busy = apply_owners(ctx, result)
        busy = apply_tasks(ctx, result) or busy
        if not busy or (rounds is None and _progress(result) == done):
            break
        done = _progress(result)
        if rounds is not None:
            rounds -= 1
    return result
