"""Webhook events persisted before the 2xx answer, processed right after.

Only the fields the pipeline needs are kept, never a raw payload (it may carry PHI)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from state.crm_kinds import checked_crm
from state.records import InboxHint
from state.repos._sql import insert_ignore
from state.tables import DEFAULT_PORTAL, InboxRow
from state.types import as_utc, utcnow


class InboxRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def add(
        self,
        source: str,
        dedupe_key: str,
        crm_id: str,
        event_type: str,
        occurred_at: datetime | None = None,
        *,
        received_at: datetime | None = None,
    ) -> bool:
        """Store an event; False when `dedupe_key` is known (never raises for a duplicate,
        also when two workers race: INSERT ... ON CONFLICT DO NOTHING)."""
        return insert_ignore(
            self.session,
            InboxRow,
            {
                "portal": self.portal,
                "source": checked_crm(source),
                "dedupe_key": dedupe_key,
                "crm_id": crm_id,
                "event_type": event_type,
                "occurred_at": as_utc(occurred_at) if occurred_at else None,
                "received_at": as_utc(received_at) if received_at else utcnow(),
            },
            ["portal", "dedupe_key"],
        )

    def unprocessed(
        self, limit: int, *, source: str | None = None, lock: bool = False
    ) -> list[InboxHint]:
        """Oldest first, of one `source` when given (filtered before the limit, so another
        CRM's events can never fill the batch). `lock` skips rows another worker holds."""
        stmt = select(InboxRow).where(InboxRow.portal == self.portal,
                                      col(InboxRow.processed_at).is_(None))
        if source is not None:
            stmt = stmt.where(InboxRow.source == source)
        stmt = stmt.order_by(col(InboxRow.id)).limit(limit)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [InboxHint(int(row.id or 0), row.source, row.dedupe_key, row.crm_id,
                          row.event_type, row.occurred_at)
                for row in self.session.exec(stmt)]

    def mark_processed(self, ids: Iterable[int], *, now: datetime | None = None) -> int:
        id_list = list(ids)
        if not id_list:
            return 0
        stmt = (
            update(InboxRow)
            .where(col(InboxRow.portal) == self.portal, col(InboxRow.id).in_(id_list),
                   col(InboxRow.processed_at).is_(None))
            .values(processed_at=as_utc(now) if now else utcnow())
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0))

    def backlog(self) -> int:
        stmt = (
            select(func.count()).select_from(InboxRow)
            .where(InboxRow.portal == self.portal, col(InboxRow.processed_at).is_(None))
        )
        return int(self.session.exec(stmt).one())

    def purge_processed(self, before: datetime) -> int:
        """Delete processed events older than `before` (dedupe keys are kept until then)."""
        stmt = delete(InboxRow).where(
            col(InboxRow.portal) == self.portal, col(InboxRow.processed_at).is_not(None),
            col(InboxRow.processed_at) < as_utc(before),
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0))
