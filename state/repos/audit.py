"""The audit trail: why each lead went where (the routing explanation), per lead event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from routing.models import Step
from state.records import AuditEntry
from state.repos._sql import insert_ids
from state.tables import DEFAULT_PORTAL, AuditKind, AuditRow
from state.types import as_utc


def steps_detail(steps: Iterable[Step]) -> dict[str, Any]:
    """A routing explanation as audit `detail`."""
    return {
        "steps": [{"kind": s.kind, "detail": s.detail, "coordinator": s.coordinator} for s in steps]
    }


@dataclass(frozen=True, slots=True)
class NewAudit:
    """One audit row to append (`add_many`)."""

    crm: str
    crm_id: str
    kind: AuditKind | str
    at: datetime
    coordinator: str | None
    rule: str | None
    detail: Mapping[str, Any]


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.crm, row.crm_id, row.at, row.kind, row.coordinator, row.rule,
                      dict(row.detail or {}))


class AuditRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def add(
        self,
        crm: str,
        crm_id: str,
        kind: AuditKind | str,
        at: datetime,
        *,
        coordinator: str | None = None,
        rule: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one audit row; its id."""
        return self.add_many([NewAudit(crm, crm_id, kind, at, coordinator, rule,
                                       detail or {})])[0]

    def add_many(self, rows: list[NewAudit]) -> list[int]:
        """Append several audit rows in one statement; their ids, in the order given."""
        if not rows:
            return []
        values = [{"portal": self.portal, "crm": r.crm, "crm_id": r.crm_id,
                   "kind": AuditKind(r.kind).value, "at": as_utc(r.at),
                   "coordinator": r.coordinator, "rule": r.rule, "detail": dict(r.detail)}
                  for r in rows]
        return insert_ids(self.session, AuditRow, values, "crm_id")

    def for_lead(self, crm: str, crm_id: str) -> list[AuditEntry]:
        stmt = (
            select(AuditRow)
            .where(AuditRow.portal == self.portal, AuditRow.crm == crm, AuditRow.crm_id == crm_id)
            .order_by(col(AuditRow.at), col(AuditRow.id))
        )
        return [_entry(row) for row in self.session.exec(stmt)]

    def by_ids(self, ids: Iterable[int]) -> dict[int, AuditEntry]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        stmt = select(AuditRow).where(AuditRow.portal == self.portal,
                                      col(AuditRow.id).in_(wanted))
        return {int(row.id or 0): _entry(row) for row in self.session.exec(stmt)}

    def recent(self, since: datetime, *, kind: AuditKind | str | None = None) -> list[AuditEntry]:
        stmt = select(AuditRow).where(AuditRow.portal == self.portal, AuditRow.at >= as_utc(since))
        if kind is not None:
            stmt = stmt.where(AuditRow.kind == AuditKind(kind).value)
        return [_entry(row) for row in
                self.session.exec(stmt.order_by(col(AuditRow.at), col(AuditRow.id)))]

    def after(self, after_id: int, limit: int) -> list[AuditEntry]:
        """Rows written after `after_id`, oldest first (a live feed follows the trail)."""
        stmt = (select(AuditRow).where(AuditRow.portal == self.portal,
                                       col(AuditRow.id) > after_id)
                .order_by(col(AuditRow.id)).limit(limit))
        return [_entry(row) for row in self.session.exec(stmt)]

    def detail_batch(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """(row id, detail) after `after_id`, in id order (the one-time scrub)."""
        stmt = (select(AuditRow.id, AuditRow.detail)
                .where(AuditRow.portal == self.portal, col(AuditRow.id) > after_id)
                .order_by(col(AuditRow.id)).limit(limit))
        return [(int(i or 0), dict(d or {})) for i, d in self.session.exec(stmt)]

    def replace_detail(self, row_id: int, detail: Mapping[str, Any]) -> None:
        row = self.session.get(AuditRow, row_id)
        if row is not None and row.portal == self.portal:
            row.detail = dict(detail)
            self.session.add(row)
