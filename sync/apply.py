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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    AuditKind,
    LeadStatus,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    UnitOfWork,
    outbox_key,
)
from sync.batches import split_on_refusal
from sync.claims import KeptClaim
from sync.context import Context
from sync.logs import get_logger

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


def _version(key: str) -> int:
    return int(key.split("/")[2].lstrip("v"))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 2.0 ** min(attempts, 8)))


def _claim(ctx: Context, kind: OutboxKind) -> list[OutboxRow]:
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        rows = uow.outbox.claim(batch_size(ctx.connector, BATCH), now,
                                 lease=ctx.config.service.claim_lease, kind=kind)
        uow.commit()
        for row in rows:
            uow.session.expunge(row)
    return rows


def _fail(ctx: Context, rows: Sequence[OutboxRow], error: CrmError) -> None:
    """Retriable: try again later. Fatal: give up on these rows. Auth: re-raise."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            assert row.id is not None
            gave_up = isinstance(error, FatalError) or row.attempts >= MAX_ATTEMPTS
            retry_at = None if gave_up else now + _backoff(row.attempts)
            uow.outbox.mark_failed(row.id, str(error), retry_at)
            if gave_up:
                uow.audit.add(ctx.crm, row.crm_id, AuditKind.ERROR, now,
                              detail={"write": row.kind, "error": str(error)})
        uow.commit()
    log.warning("outbox.failed", crm=ctx.crm, kind=rows[0].kind if rows else None,
                count=len(rows), error=str(error), error_type=type(error).__name__)
    if isinstance(error, AuthError):
        raise error


def apply_owners(ctx: Context, result: ApplyResult) -> bool:
    rows = _claim(ctx, OutboxKind.OWNER)
    if not rows:
        return False
    writes = [OwnerWrite(row.crm_id, str(row.payload["owner_id"]),
                         frozenset(row.payload.get("replaceable") or [None]),
                         dict(row.payload.get("properties") or {})) for row in rows]
    try:
        outcomes = {r.crm_id: r for r in split_on_refusal(
            ctx.connector.write_owners, writes,
            lambda w, exc: OwnerWriteResult(w.crm_id, WriteOutcome.REJECTED, error=str(exc)))}
    except CrmError as exc:
        _fail(ctx, rows, exc)
        return True
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            assert row.id is not None
            outcome = outcomes.get(row.crm_id)
            lead = uow.leads.get(ctx.crm, row.crm_id)
            current = lead is not None and lead.assignment == _version(row.key)
            if outcome is None or outcome.outcome is WriteOutcome.REJECTED:
                error = outcome.error if outcome and outcome.error else "owner write rejected"
                uow.outbox.mark_failed(row.id, error, now + _backoff(row.attempts + 1)
                                       if row.attempts < 3 else None)
                result.failed += 1
                continue
            if outcome.outcome in (WriteOutcome.WRITTEN, WriteOutcome.ALREADY):
                uow.outbox.mark_done(row.id, outcome.outcome.value, now=now)
                if current and lead and lead.status in (LeadStatus.ROUTED,
                                                        LeadStatus.ESCALATED_FINAL):
                    status = (LeadStatus.OWNER_WRITTEN if lead.status == LeadStatus.ROUTED
                              else LeadStatus.ESCALATED_FINAL)
                    uow.leads.update(ctx.crm, row.crm_id, status=status,
                                     owner_written_at=now, now=now)
                    if lead.reassignments == 0 and status == LeadStatus.OWNER_WRITTEN:
                        result.owner_latencies.append(
                            max(0.0, (now - lead.created_at).total_seconds()))
                uow.audit.add(ctx.crm, row.crm_id, AuditKind.OWNER_WRITTEN, now,
                              coordinator=row.payload.get("coordinator"),
                              detail={"crm_owner": row.payload["owner_id"],
                                      "outcome": outcome.outcome.value})
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
                    uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.SKIPPED, now=now)
                    uow.audit.add(ctx.crm, row.crm_id, AuditKind.SKIPPED, now,
                                  detail={"why": "the record no longer exists in the CRM"})
        uow.commit()
    return True


def mark_overridden(ctx: Context, uow: UnitOfWork, crm_id: str, crm_owner: str | None,
                    now: datetime) -> None:
    """A person chose another owner: respect it, stop reassigning, keep measuring."""
    uow.outbox.cancel_for_lead(ctx.crm, crm_id)
    uow.leads.update(ctx.crm, crm_id, status=LeadStatus.OVERRIDDEN, now=now)
    uow.audit.add(ctx.crm, crm_id, AuditKind.OVERRIDDEN, now,
                  coordinator=ctx.directory.coordinator_of.get(crm_owner or ""),
                  detail={"crm_owner": crm_owner, "why": "a person set another owner"})
    log.info("lead.overridden", crm=ctx.crm, lead=crm_id, owner_id=crm_owner)


def _ready_tasks(ctx: Context, rows: list[OutboxRow]) -> tuple[list[OutboxRow], int]:
    """Tasks whose owner write is done; others wait (no attempt counted), stale ones end."""
    ready: list[OutboxRow] = []
    deferred = 0
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            assert row.id is not None
            owner_row = uow.outbox.get(outbox_key(row.crm_id, _version(row.key),
                                                  OutboxKind.OWNER))
            lead = uow.leads.get(ctx.crm, row.crm_id)
            stale = lead is None or lead.assignment != _version(row.key) or lead.status in (
                LeadStatus.OVERRIDDEN, LeadStatus.SKIPPED)
            if stale or owner_row is None or owner_row.status in (OutboxStatus.CANCELLED,
                                                                  OutboxStatus.FAILED):
                uow.outbox.mark_done(row.id, "superseded", now=now)
            else:
                stored = uow.outbox.get(row.key)
                assert stored is not None
                if owner_row.status != OutboxStatus.DONE:
                    stored.next_attempt_at = now  # not claimed after all: owner first
                    deferred += 1
                else:
                    # counted before the call: after a crash or an uncertain answer the
                    # next try searches for the task's marker before creating it
                    stored.attempts += 1
                    row.attempts = stored.attempts
                    ready.append(row)
                uow.session.add(stored)
        uow.commit()
    return ready, deferred


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
    sent: list[OutboxRow] = []
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


def _request(row: OutboxRow) -> TaskRequest:
    return TaskRequest(row.key, row.crm_id, str(row.payload["owner_id"]),
                       str(row.payload["subject"]),
                       datetime.fromisoformat(str(row.payload["due"])),
                       str(row.payload["priority"]), str(row.payload.get("type", "CALL")))


def _record(ctx: Context, rows: list[OutboxRow], task_ids: Mapping[str, str],
            result: ApplyResult, *, created: bool) -> None:
    """Done rows (their task made now, or found from an earlier try); others failed."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            assert row.id is not None
            task_id = task_ids.get(row.key)
            if task_id is None:
                uow.outbox.mark_failed(row.id, "task not created", now + _backoff(row.attempts))
                result.failed += 1
                continue
            uow.outbox.mark_done(row.id, task_id, now=now)
            lead = uow.leads.get(ctx.crm, row.crm_id)
            if lead and lead.assignment == _version(row.key) and lead.status == \
                    LeadStatus.OWNER_WRITTEN:
                uow.leads.update(ctx.crm, row.crm_id, status=LeadStatus.TASK_CREATED, now=now)
            uow.audit.add(ctx.crm, row.crm_id, AuditKind.TASK_CREATED, now,
                          coordinator=row.payload.get("coordinator"),
                          detail={"task_id": task_id, "found_existing": not created,
                                  "due": row.payload["due"]})
            result.tasks_created += 1
        uow.commit()


def apply_pending(ctx: Context, *, rounds: int = 20) -> ApplyResult:
    """Owner writes first, then the tasks whose owner is written; repeat while work is due."""
    result = ApplyResult()
    for _ in range(rounds):
        busy = apply_owners(ctx, result)
        busy = apply_tasks(ctx, result) or busy
        if not busy:
            break
    return result
