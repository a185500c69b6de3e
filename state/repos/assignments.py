"""Assignments (one row per assignment of a lead): the report's read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from state.repos._sql import insert_ignore_many, update_values
from state.tables import DEFAULT_PORTAL, AssignmentRow, PassedOverRow
from state.types import as_utc

_TIMES = frozenset({"assigned_at", "sla_due", "owner_written_at", "attempt_at"})
_SETTABLE = frozenset({"owner_written_at", "attempt_at", "outcome"})


@dataclass(frozen=True, slots=True)
class NewAssignment:
    """One assignment to record (`add_many`)."""

    crm_id: str
    number: int
    lead_created_at: datetime
    kind: str
    coordinator: str
    rule: str | None
    reason: str | None
    assigned_at: datetime
    sla_due: datetime | None


class AssignmentRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def add_many(self, crm: str, assignments: list[NewAssignment]) -> int:
        """Record assignments, in one statement; how many were new (one recorded already, from a
        replayed event, is left as it is)."""
        rows = [{"portal": self.portal, "crm": crm, "crm_id": a.crm_id, "number": a.number,
                 "lead_created_at": as_utc(a.lead_created_at), "kind": a.kind,
                 "coordinator": a.coordinator, "rule": a.rule,
                 "reason": a.reason[:64] if a.reason else None,
                 "assigned_at": as_utc(a.assigned_at),
                 "sla_due": as_utc(a.sla_due) if a.sla_due else None} for a in assignments]
        return len(insert_ignore_many(self.session, AssignmentRow, rows,
                                      ["portal", "crm", "crm_id", "number"], returning="number"))

    def passed_over_many(self, crm: str,
                         decisions: list[tuple[str, datetime, datetime, dict[str, str]]]
                         ) -> None:
        """Whom routing decisions passed over, and why: (crm id, at, lead created at,
        coordinator -> why) per decision, in one statement (a row per coordinator)."""
        rows = [{"portal": self.portal, "crm": crm, "crm_id": crm_id, "at": as_utc(at),
                 "lead_created_at": as_utc(created), "coordinator": coordinator[:128],
                 "reason": reason[:24]}
                for crm_id, at, created, skipped in decisions
                for coordinator, reason in sorted(skipped.items())]
        if rows:
            self.session.execute(insert(PassedOverRow.__table__), rows)  # type: ignore[attr-defined]

    def settle_many(self, crm: str, field: str, values: list[tuple[str, int, Any]]) -> None:
        """Set what happened to assignments, one field for several (crm id, number, value), in
        one statement; a field already set is kept (first wins)."""
        if field not in _SETTABLE:
            raise TypeError(f"not a settable assignment field: {field}")
        if not values:
            return
        update_values(self.session, AssignmentRow, [
            {field: as_utc(v) if field in _TIMES else v, "portal": self.portal, "crm": crm,
             "crm_id": i, "number": n} for i, n, v in values],
            ("portal", "crm", "crm_id", "number"), unset=field)
