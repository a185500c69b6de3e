"""What applying a batch of outbox rows shares: the result, claims, failures, and recording
a batch's outcomes together or one by one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from connectors.base import AuthError, CrmError, FatalError, batch_size
from state import OutboxItem, OutboxKind, StoreUnavailable, UnitOfWork
from sync.batches import all_at_once
from sync.context import Context
from sync.lifecycle import LeadEvent, transition
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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 2.0 ** min(attempts, 8)))


def _owner_batch(ctx: Context) -> int:
    """Owner writes per `write_owners` call: the connector's optional `owner_batch_size`
    (several write calls behind one compare read), else its batch size."""
    size = getattr(ctx.connector, "owner_batch_size", None)
    return size if isinstance(size, int) and size > 0 else batch_size(ctx.connector, BATCH)


T = TypeVar("T")


def call_crm(pool: Executor | None, call: Callable[..., T], *args: Any) -> Future[T]:
    """`call(*args)` (a CRM call) in `pool`, in this thread's log context (its portal, its
    step), while this thread goes on; or here and now without a pool. Either way its
    answer, or its `CrmError`, is in the future returned."""
    if pool is not None:
        return pool.submit(copy_context().run, call, *args)
    done: Future[T] = Future()
    try:
        done.set_result(call(*args))
    except CrmError as exc:
        done.set_exception(exc)
    return done


def claim_batch(ctx: Context, kind: OutboxKind) -> list[OutboxItem]:
    """A batch of due rows of `kind`, claimed (committed at once)."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        rows = claim_rows(uow, ctx, kind, now)
        uow.commit()
    return rows


def claim_rows(uow: UnitOfWork, ctx: Context, kind: OutboxKind,
               now: datetime) -> list[OutboxItem]:
    """A batch of due rows of `kind`, claimed in `uow` (commit it before any CRM call)."""
    size = _owner_batch(ctx) if kind == OutboxKind.OWNER else batch_size(ctx.connector, BATCH)
    return uow.outbox.claim(size, now, lease=ctx.config.service.claim_lease, kind=kind)


def record_failure(ctx: Context, rows: Sequence[OutboxItem], error: CrmError) -> None:
    """Retriable: try again later. Fatal: give up on these rows. Auth: re-raise."""
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for row in rows:
            gave_up = isinstance(error, FatalError) or row.attempts >= MAX_ATTEMPTS
            retry_at = None if gave_up else now + backoff(row.attempts)
            uow.outbox.mark_failed(row.id, str(error), retry_at)
            if gave_up:
                write_given_up(uow, ctx, row, str(error), now)
        uow.commit()
    log.warning("outbox.failed", crm=ctx.crm, kind=rows[0].kind if rows else None,
                count=len(rows), error=str(error), error_type=type(error).__name__)
    if isinstance(error, AuthError):
        raise error


def in_bulk(uow: UnitOfWork, ctx: Context, rows: Sequence[tuple[OutboxItem, Any]],
            result: ApplyResult, record: Callable[[ApplyResult], None]) -> set[int]:
    """Record the outcomes of `rows` ((row, outcome) pairs) together, a few statements for
    the batch; the ids of the rows recorded: none when they cannot be (a lead twice among
    them, or an error: undone), for the caller to record them one by one, each on its own
    (see `in_savepoint`)."""
    if not rows:
        return set()
    crm_ids = [row.crm_id for row, _ in rows]
    if len(set(crm_ids)) != len(crm_ids):
        return set()
    figures = ApplyResult()
    if not all_at_once(uow, lambda: record(figures), what="outbox.batch_recorded_one_by_one",
                       crm=ctx.crm, count=len(rows)):
        return set()
    add_up(result, figures)
    return {row.id for row, _ in rows}


def in_savepoint(uow: UnitOfWork, ctx: Context, row: OutboxItem, now: datetime,
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
            write_given_up(uow, ctx, row, reason, now)
        log.error("outbox.record_failed", crm=ctx.crm, lead=row.crm_id, kind=row.kind,
                  error_type=type(exc).__name__)


def write_given_up(uow: UnitOfWork, ctx: Context, row: OutboxItem, error: str,
                   now: datetime) -> None:
    """A write given up: its lead records why (its state stays)."""
    if uow.leads.get(ctx.crm, row.crm_id) is not None:
        transition(uow, ctx, row.crm_id, LeadEvent.WRITE_FAILED, now,
                   facts={"write": row.kind, "error": error})
