"""Coordinators marked away, by the command line or by the CRM's availability status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlmodel import Session

from state.repos._sql import upsert
from state.tables import DEFAULT_PORTAL, AvailabilityRow
from state.types import as_utc

_T = AvailabilityRow.__table__  # type: ignore[attr-defined]
CLI = "cli"  # `leadrouter away` / `back`
CRM = "crm"  # the CRM's own availability status


class AvailabilityRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def mark_away(self, coordinator: str, source: str, now: datetime,
                  until: datetime | None = None) -> None:
        """Away from now on (until `until`, when given); replaces an earlier mark."""
        at = as_utc(now)
        end = as_utc(until) if until is not None else None
        upsert(self.session, AvailabilityRow,
               {"portal": self.portal, "coordinator": coordinator, "source": source,
                "until": end, "updated_at": at},
               ["portal", "coordinator", "source"], {"until": end, "updated_at": at})

    def mark_back(self, coordinator: str, source: str, now: datetime) -> bool:
        """End an away mark now (the row stays, expired, until the availability step sees
        the return); False when there was none in effect."""
        at = as_utc(now)
        row = self.session.execute(select(_T.c.until).where(
            _T.c.portal == self.portal, _T.c.coordinator == coordinator,
            _T.c.source == source)).first()
        if row is None or (row[0] is not None and as_utc(row[0]) <= at):
            return False
        self.session.execute(_T.update().where(
            _T.c.portal == self.portal, _T.c.coordinator == coordinator,
            _T.c.source == source).values(until=at, updated_at=at))
        return True

    def away(self, now: datetime) -> dict[str, set[str]]:
        """Coordinator -> the sources that have them away at `now`."""
        at = as_utc(now)
        rows = self.session.execute(select(_T.c.coordinator, _T.c.source).where(
            _T.c.portal == self.portal, or_(_T.c.until.is_(None), _T.c.until > at)))
        found: dict[str, set[str]] = {}
        for coordinator, source in rows:
            found.setdefault(str(coordinator), set()).add(str(source))
        return found

    def until(self, coordinator: str, now: datetime) -> datetime | None:
        """When the command-line mark in effect ends (None: no end, or no mark)."""
        value = self.session.execute(select(_T.c.until).where(
            _T.c.portal == self.portal, _T.c.coordinator == coordinator,
            _T.c.source == CLI)).scalar()
        return None if value is None or as_utc(value) <= as_utc(now) else as_utc(value)

    def sweep_expired(self, now: datetime) -> list[str]:
        """Delete the marks that have ended (returns, expiries); the coordinators they were."""
        at = as_utc(now)
        where = (_T.c.portal == self.portal, _T.c.until.is_not(None), _T.c.until <= at)
        gone = [str(c) for (c,) in self.session.execute(select(_T.c.coordinator).where(*where))]
        if gone:
            self.session.execute(delete(_T).where(*where))
        return gone

    def set_crm_away(self, coordinators: Iterable[str], now: datetime) -> tuple[set[str], set[str]]:
        """Make the CRM's away marks exactly `coordinators`: (newly away, back)."""
        wanted = set(coordinators)
        current = {str(c) for (c,) in self.session.execute(select(_T.c.coordinator).where(
            _T.c.portal == self.portal, _T.c.source == CRM))}
        for coordinator in sorted(wanted - current):
            self.mark_away(coordinator, CRM, now)
        back = current - wanted
        if back:
            self.session.execute(delete(_T).where(
                _T.c.portal == self.portal, _T.c.source == CRM, _T.c.coordinator.in_(back)))
        return wanted - current, back
