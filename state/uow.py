"""The unit of work: one session, one transaction, repositories bound to it.

    with store.unit_of_work() as uow:
        uow.leads.add_seen(...)
        uow.outbox.enqueue(...)
        uow.commit()

Whatever is not committed when the block ends is rolled back, also on exception.
A lost connection or a lock held past the busy timeout surfaces as `StoreUnavailable`
(a `StoreError`, transient: retry the whole unit), with the driver's first message line
only -- SQLAlchemy's own messages repeat the statement's parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Engine, event
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

from state.claim_locks import ClaimLocks
from state.errors import StoreError, StoreUnavailable, driver_reason
from state.repos import (
    AssignmentRepo,
    AuditRepo,
    AvailabilityRepo,
    CursorRepo,
    InboxRepo,
    IntakeRepo,
    LeadEventRepo,
    LeadRepo,
    OutboxRepo,
    PointerRepo,
    ReportRepo,
)
from state.repos._sql import PENDING_LEADS
from state.tables import DEFAULT_PORTAL

# Connection execution option: open a deferred (read) transaction on SQLite.
READ_ONLY_OPTION = "leadrouter_read_only"


class UnitOfWork:
    session: Session
    leads: LeadRepo
    pointers: PointerRepo
    cursors: CursorRepo
    outbox: OutboxRepo
    inbox: InboxRepo
    audit: AuditRepo
    events: LeadEventRepo
    assignments: AssignmentRepo
    report: ReportRepo
    availability: AvailabilityRepo
    intake: IntakeRepo

    def __init__(self, engine: Engine, *, read_only: bool = False,
                 portal: str = DEFAULT_PORTAL, claims: ClaimLocks | None = None) -> None:
        self.portal = portal  # every repository of this unit reads and writes this portal only
        self._claims = claims  # PostgreSQL: this process's outbox claims
        self._engine = engine.execution_options(**{READ_ONLY_OPTION: True}) if read_only else engine
        self.read_only = read_only
        self._open = False

    def __enter__(self) -> UnitOfWork:
        if self._open:
            raise RuntimeError("unit of work already entered")
        self.session = _UnitSession(self._engine, expire_on_commit=False, autoflush=True)
        self.leads = LeadRepo(self.session, self.portal)
        self.session.info[PENDING_LEADS] = self.leads
        self.pointers = PointerRepo(self.session, self.portal)
        self.cursors = CursorRepo(self.session, self.portal)
        self.outbox = OutboxRepo(self.session, self.portal, claims=self._claims)
        self.inbox = InboxRepo(self.session, self.portal)
        self.audit = AuditRepo(self.session, self.portal)
        self.events = LeadEventRepo(self.session, self.portal)
        self.assignments = AssignmentRepo(self.session, self.portal)
        self.report = ReportRepo(self.session, self.portal)
        self.availability = AvailabilityRepo(self.session, self.portal)
        self.intake = IntakeRepo(self.session, self.portal)
        self._open = True
        return self

    def commit(self) -> None:
        if self.read_only:
            raise StoreError("a read-only unit of work cannot commit")
        try:
            self.leads.flush()
            self.leads.forget()  # the next transaction reads what other workers committed
            self.session.commit()
        except _TRANSIENT as exc:
            raise _unavailable(exc) from None
        if self._claims is not None and self.outbox.settled:
            # outcomes committed: the rows' claims go (not before: another worker would
            # find them still pending)
            self._claims.release(self.outbox.settled)
            self.outbox.settled.clear()

    def rollback(self) -> None:
        self.leads.forget()
        self.session.rollback()

    def flush(self) -> None:
        try:
            self.leads.flush()
            self.session.flush()
        except _TRANSIENT as exc:
            raise _unavailable(exc) from None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Changes inside are undone alone when the block raises; the rest of the unit stays.

        This is how one bad lead is set aside without failing its batch. A transient error
        (lost connection, lock timeout) is not a lead's fault: it surfaces as
        `StoreUnavailable` for the caller to retry the whole unit.
        """
        try:
            self.leads.flush()  # changes made before belong to the unit, not to the savepoint
            with self.session.begin_nested():
                yield
                self.leads.flush()
        except BaseException as exc:
            self.leads.forget()  # rows read or changed inside may be gone or stale
            if isinstance(exc, _TRANSIENT):
                raise _unavailable(exc) from None
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            try:
                self.session.rollback()
            except SQLAlchemyError as rollback_exc:
                if exc is None:
                    raise _unavailable(rollback_exc) from None
                # the original error below says more than the failed rollback
        finally:
            self.session.close()
            self._open = False
        if isinstance(exc, _TRANSIENT):
            raise _unavailable(exc) from None


_TRANSIENT = (OperationalError, InterfaceError)


class _UnitSession(Session):
    """A unit's session: the lead repository's changes are sent before each statement."""


@event.listens_for(_UnitSession, "do_orm_execute")
def _send_lead_changes(state: ORMExecuteState) -> None:
    # every statement of the unit reads what its lead changes made, as the ORM's autoflush
    # would for ORM rows (the repository keeps them until a flush, to send them together)
    leads = state.session.info.get(PENDING_LEADS)
    if leads is not None:
        leads.flush()


def _unavailable(exc: SQLAlchemyError) -> StoreUnavailable:
    return StoreUnavailable(f"state database unavailable: {driver_reason(exc)}")
