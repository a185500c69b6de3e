"""Lead events: appended with each lifecycle transition, read by `explain` and the report."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from state.records import LeadEventRecord
from state.repos._sql import insert_ids
from state.tables import DEFAULT_PORTAL, LeadEventRow
from state.types import as_utc


def _record(row: LeadEventRow) -> LeadEventRecord:
    return LeadEventRecord(row.id, row.portal, row.crm, row.crm_id, row.assignment, row.event,
                           row.from_status, row.to_status, row.coordinator, row.rule, row.at,
                           row.audit_id, dict(row.detail or {}))


class LeadEventRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def append_many(self, events: list[LeadEventRecord]) -> list[LeadEventRecord]:
        """Append several events (their `id` and `portal` ignored) in one statement; the
        stored ones, in the order given."""
        if not events:
            return []
        values = [{"portal": self.portal, "crm": e.crm, "crm_id": e.crm_id,
                   "assignment": e.assignment, "event": e.event, "from_status": e.from_status,
                   "to_status": e.to_status, "coordinator": e.coordinator, "rule": e.rule,
                   "at": as_utc(e.at), "audit_id": e.audit_id, "detail": dict(e.detail)}
                  for e in events]
        ids = insert_ids(self.session, LeadEventRow, values, "crm_id")
        # built anew rather than by dataclasses.replace, which is several times slower
        return [LeadEventRecord(int(i), self.portal, e.crm, e.crm_id, e.assignment, e.event,
                                e.from_status, e.to_status, e.coordinator, e.rule, e.at,
                                e.audit_id, e.detail)
                for e, i in zip(events, ids, strict=True)]

    def for_lead(self, crm: str, crm_id: str) -> list[LeadEventRecord]:
        stmt = (select(LeadEventRow)
                .where(LeadEventRow.portal == self.portal, LeadEventRow.crm == crm,
                       LeadEventRow.crm_id == crm_id)
                .order_by(col(LeadEventRow.id)))
        return [_record(row) for row in self.session.exec(stmt)]

    def since(self, since: datetime, *, event: str | None = None,
              limit: int | None = None) -> list[LeadEventRecord]:
        stmt = select(LeadEventRow).where(LeadEventRow.portal == self.portal,
                                          col(LeadEventRow.at) >= as_utc(since))
        if event is not None:
            stmt = stmt.where(LeadEventRow.event == event)
        stmt = stmt.order_by(col(LeadEventRow.id))
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_record(row) for row in self.session.exec(stmt)]
