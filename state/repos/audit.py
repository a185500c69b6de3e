"""The audit trail: why each lead went where, and everything that happened to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from routing.models import Step
from state.tables import AuditKind, AuditRow
from state.types import as_utc


def steps_detail(steps: Iterable[Step]) -> dict[str, Any]:
    """A routing explanation as audit `detail`."""
    return {
        "steps": [{"kind": s.kind, "detail": s.detail, "coordinator": s.coordinator} for s in steps]
    }


class AuditRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

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
    ) -> AuditRow:
        row = AuditRow(
            crm=crm,
            crm_id=crm_id,
            kind=AuditKind(kind).value,
            at=as_utc(at),
            coordinator=coordinator,
            rule=rule,
            detail=dict(detail or {}),
        )
        self.session.add(row)
        return row

    def for_lead(self, crm: str, crm_id: str) -> list[AuditRow]:
        stmt = (
            select(AuditRow)
            .where(AuditRow.crm == crm, AuditRow.crm_id == crm_id)
            .order_by(col(AuditRow.at), col(AuditRow.id))
        )
        return list(self.session.exec(stmt))

    def recent(self, since: datetime, *, kind: AuditKind | str | None = None) -> list[AuditRow]:
        stmt = select(AuditRow).where(AuditRow.at >= as_utc(since))
        if kind is not None:
            stmt = stmt.where(AuditRow.kind == AuditKind(kind).value)
        return list(self.session.exec(stmt.order_by(col(AuditRow.at), col(AuditRow.id))))
