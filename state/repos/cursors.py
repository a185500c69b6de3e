"""Durable named cursors (e.g. the poll high-water mark per CRM object)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from state.repos._sql import upsert
from state.tables import DEFAULT_PORTAL, CursorRow
from state.types import as_utc, utcnow

_T = CursorRow.__table__  # type: ignore[attr-defined]


class CursorRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def get(self, name: str, *, lock: bool = False) -> str | None:
        """`lock=True` holds an existing cursor row until commit (SELECT ... FOR UPDATE on
        PostgreSQL; SQLite's write transactions are serialised anyway)."""
        stmt = select(_T.c.value).where(_T.c.portal == self.portal, _T.c.name == name)
        if lock:
            stmt = stmt.with_for_update()
        value = self.session.execute(stmt).scalar()
        return None if value is None else str(value)

    def set(self, name: str, value: str, *, now: datetime | None = None) -> None:
        at = as_utc(now) if now else utcnow()
        upsert(
            self.session,
            CursorRow,
            {"portal": self.portal, "name": name, "value": value, "updated_at": at},
            ["portal", "name"],
            {"value": value, "updated_at": at},
        )

    def all(self) -> dict[str, str]:
        rows = self.session.execute(
            select(_T.c.name, _T.c.value).where(_T.c.portal == self.portal)).all()
        return {str(n): str(v) for n, v in rows}
