"""Email intake: per-folder UID marks and one row per message key (hashes and ids only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from state.repos._sql import insert_ignore, upsert
from state.tables import DEFAULT_PORTAL, IntakeFolderRow, IntakeMessageRow
from state.types import as_utc

_F = IntakeFolderRow.__table__  # type: ignore[attr-defined]
_M = IntakeMessageRow.__table__  # type: ignore[attr-defined]

INTENT = "intent"  # recorded before any CRM call: a create may be under way
RECORDED = "recorded"  # the CRM record is known and the lead is in the store
PROCESSED = "processed"  # moved to the processed folder
REVIEW = "review"  # moved (or to be moved) to the review folder


@dataclass(frozen=True, slots=True)
class IntakeMessage:
    key: str
    state: str
    format: str | None
    reason: str | None
    crm_id: str | None
    outcome: str | None
    arrived_at: datetime
    intent_at: datetime
    attempts: int


class IntakeRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    # --- folders -------------------------------------------------------------------------
    def folder(self, mailbox: str, folder: str) -> tuple[int, int] | None:
        """(UIDVALIDITY, last UID read) of a folder, None before its first poll."""
        row = self.session.execute(select(_F.c.uidvalidity, _F.c.last_uid).where(
            _F.c.portal == self.portal, _F.c.mailbox == mailbox, _F.c.folder == folder)).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def set_folder(self, mailbox: str, folder: str, uidvalidity: int, last_uid: int,
                   now: datetime) -> None:
        at = as_utc(now)
        upsert(self.session, IntakeFolderRow,
               {"portal": self.portal, "mailbox": mailbox, "folder": folder,
                "uidvalidity": uidvalidity, "last_uid": last_uid, "updated_at": at},
               ["portal", "mailbox", "folder"],
               {"uidvalidity": uidvalidity, "last_uid": last_uid, "updated_at": at})

    # --- messages ------------------------------------------------------------------------
    def get(self, key: str) -> IntakeMessage | None:
        row = self.session.execute(select(_M).where(
            _M.c.portal == self.portal, _M.c.key == key)).mappings().first()
        return None if row is None else _record(row)

    def begin(self, key: str, state: str, arrived_at: datetime, now: datetime, *,
              format: str | None = None, reason: str | None = None) -> bool:
        """The first record of a message; False when the key is known (nothing changes)."""
        at = as_utc(now)
        return insert_ignore(self.session, IntakeMessageRow,
                             {"portal": self.portal, "key": key, "state": state,
                              "format": format, "reason": reason,
                              "arrived_at": as_utc(arrived_at), "intent_at": at,
                              "updated_at": at, "attempts": 0}, ["portal", "key"])

    def update(self, key: str, now: datetime, **fields: Any) -> None:
        self.session.execute(_M.update().where(_M.c.portal == self.portal, _M.c.key == key)
                             .values(updated_at=as_utc(now), **fields))

    def tried(self, key: str, now: datetime) -> int:
        """Count one more attempt at a message's CRM work; the count now."""
        self.session.execute(_M.update().where(_M.c.portal == self.portal, _M.c.key == key)
                             .values(attempts=_M.c.attempts + 1, updated_at=as_utc(now)))
        value = self.session.execute(select(_M.c.attempts).where(
            _M.c.portal == self.portal, _M.c.key == key)).scalar()
        return int(value or 0)

    def counts(self, since: datetime | None = None, until: datetime | None = None
               ) -> dict[tuple[str, str], int]:
        """(state, reason or format) -> messages that arrived in [since, until), for the
        report (reviews by reason, the others by format)."""
        stmt = select(_M.c.state, func.coalesce(_M.c.reason, _M.c.format, ""),
                      func.count()).where(_M.c.portal == self.portal)
        if since is not None:
            stmt = stmt.where(_M.c.arrived_at >= as_utc(since))
        if until is not None:
            stmt = stmt.where(_M.c.arrived_at < as_utc(until))
        stmt = stmt.group_by(_M.c.state, func.coalesce(_M.c.reason, _M.c.format, ""))
        return {(str(s), str(r)): int(n) for s, r, n in self.session.execute(stmt)}

    def by_crm_id(self, crm: str, crm_id: str) -> IntakeMessage | None:
        """The message that made or found this record (the oldest), for `explain`."""
        row = self.session.execute(select(_M).where(
            _M.c.portal == self.portal, _M.c.crm == crm, _M.c.crm_id == crm_id)
            .order_by(_M.c.arrived_at).limit(1)).mappings().first()
        return None if row is None else _record(row)


def _record(row: Any) -> IntakeMessage:
    return IntakeMessage(str(row["key"]), str(row["state"]), row["format"], row["reason"],
                         row["crm_id"], row["outcome"], as_utc(row["arrived_at"]),
                         as_utc(row["intent_at"]), int(row["attempts"] or 0))
