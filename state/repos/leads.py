"""Lead rows: idempotent arrival, lifecycle updates, capacity and SLA queries.

Every query is bound to one portal. Reads hand out `LeadRecord` values, never ORM rows.
The status itself is only changed by `sync/lifecycle.py` (a test holds `sync/` to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_attribute
from sqlmodel import Session, col, select

from state.crm_kinds import checked_crm
from state.records import LeadRecord, WatchedLead
from state.repos._sql import insert_ignore_many
from state.repos.lead_values import clean_attributes, new_record, record_of, source_of
from state.tables import (
    DEFAULT_PORTAL,
    OPEN_STATUSES,
    SLA_RUNNING_STATUSES,
    LeadRow,
    LeadStatus,
)
from state.types import as_utc, utcnow

_UPDATABLE = frozenset(LeadRow.model_fields) - {"id", "portal", "crm", "crm_id", "first_seen_at"}
_DATETIME_FIELDS = frozenset(
    {"created_at", "assigned_at", "owner_written_at", "sla_due", "held_until", "contacted_at",
     "first_owner_at"}
)
class LeadRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal
        # rows read in this transaction, by (crm, crm_id): a change reads its lead several
        # times (the transition, its subscribers, the step around it); the session's own
        # objects stay current with every change made through them. `forget()` at commit,
        # rollback and an undone savepoint, when they may no longer be.
        self._rows: dict[tuple[str, str], LeadRow] = {}
        self._locked: set[tuple[str, str]] = set()
        # their records, built once per change rather than once per read
        self._records: dict[tuple[str, str], LeadRecord] = {}

    def forget(self) -> None:
        self._rows.clear()
        self._locked.clear()
        self._records.clear()

    def _record_of(self, row: LeadRow) -> LeadRecord:
        key = (row.crm, row.crm_id)
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = record_of(row)
        return record

    def _changed(self, row: LeadRow) -> LeadRecord:
        """The record of a row just changed (and kept as the one later reads hand out)."""
        record = self._records[(row.crm, row.crm_id)] = record_of(row)
        return record

    def get(self, crm: str, crm_id: str, *, lock: bool = False) -> LeadRecord | None:
        """`lock=True` holds the row (SELECT ... FOR UPDATE on PostgreSQL) until commit."""
        row = self._row(crm, crm_id, lock=lock)
        return None if row is None else self._record_of(row)

    def get_many(self, crm: str, crm_ids: Iterable[str]) -> dict[str, LeadRecord]:
        """The stored leads among `crm_ids`, by CRM id, read in one query per 500 (and kept
        for this transaction like `get`'s)."""
        return {crm_id: self._record_of(row) for crm_id, row in self._load(crm, crm_ids).items()}

    def status_of(self, crm: str, crm_ids: Iterable[str]) -> dict[str, str]:
        """`get_many`'s statuses only (the rows are kept for this transaction just the same)."""
        return {crm_id: row.status for crm_id, row in self._load(crm, crm_ids).items()}

    def _load(self, crm: str, crm_ids: Iterable[str]) -> dict[str, LeadRow]:
        ids = list(crm_ids)
        wanted = sorted({i for i in ids if (crm, i) not in self._rows})
        for start in range(0, len(wanted), 500):
            stmt = select(LeadRow).where(LeadRow.portal == self.portal, LeadRow.crm == crm,
                                         col(LeadRow.crm_id).in_(wanted[start:start + 500]))
            for found in self.session.exec(stmt):
                self._rows[(crm, found.crm_id)] = found
        out: dict[str, LeadRow] = {}
        for crm_id in ids:
            row = self._rows.get((crm, crm_id))
            if row is not None:
                out[crm_id] = row
        return out

    def _row(self, crm: str, crm_id: str, *, lock: bool = False) -> LeadRow | None:
        key = (crm, crm_id)
        known = self._rows.get(key)
        if known is not None and (not lock or key in self._locked):
            return known
        stmt = select(LeadRow).where(LeadRow.portal == self.portal, LeadRow.crm == crm,
                                     LeadRow.crm_id == crm_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.exec(stmt).first()
        if row is not None:
            self._rows[key] = row
            if lock:
                self._locked.add(key)
        return row

    def add_seen(
        self,
        crm: str,
        crm_id: str,
        created_at: datetime,
        attributes: Mapping[str, object],
        *,
        now: datetime | None = None,
    ) -> bool:
        """Record a lead as `seen` unless known already; True when it is new.

        An existing row is left as it is (update it explicitly if its attributes changed).
        """
        return crm_id in self.add_seen_many(crm, [(crm_id, created_at, attributes)],
                                            now=now or utcnow())

    def add_seen_many(self, crm: str, leads: Iterable[tuple[str, datetime, Mapping[str, object]]],
                      *, now: datetime) -> dict[str, LeadRecord]:
        """`add_seen` for several (crm id, created at, attributes), in one statement: the
        new leads' records by CRM id (built from what was inserted, not read back).
        Attributes are checked first: one that is refused raises before anything is
        written."""
        at = as_utc(now)
        values: dict[str, dict[str, Any]] = {}
        for crm_id, created_at, attributes in leads:
            cleaned = clean_attributes(attributes)
            values[crm_id] = {
                "portal": self.portal, "crm": checked_crm(crm), "crm_id": crm_id,
                "created_at": as_utc(created_at), "first_seen_at": at, "attributes": cleaned,
                "source": source_of(cleaned), "status": LeadStatus.SEEN.value, "assignment": 0,
                "reassignments": 0, "excluded": [], "updated_at": at}
        inserted = insert_ignore_many(self.session, LeadRow, list(values.values()),
                                      ["portal", "crm", "crm_id"], returning=("id", "crm_id"))
        out: dict[str, LeadRecord] = {}
        for row_id, crm_id in inserted:
            record = out[crm_id] = new_record(values[crm_id], int(row_id))
            self._records[(record.crm, crm_id)] = record
        return out

    def update(
        self, crm: str, crm_id: str, *, now: datetime | None = None, flush: bool = True,
        **changes: Any
    ) -> LeadRecord:
        """Set fields of an existing lead; `status` must be a LeadStatus value. `flush=False`
        leaves the change to the next flush (a batch of changes flushes once)."""
        row = self._require(crm, crm_id)
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"not updatable lead fields: {sorted(unknown)}")
        for field, value in changes.items():
            if field == "status":
                value = LeadStatus(value).value
            elif field == "attributes":
                value = clean_attributes(value)
                _set(row, "source", source_of(value))
            elif field == "excluded":
                value = sorted({str(v) for v in value})
            elif field in _DATETIME_FIELDS and value is not None:
                value = as_utc(value)
            _set(row, field, value)
        _set(row, "updated_at", as_utc(now) if now else utcnow())
        if flush:
            self.session.flush()
        return self._changed(row)

    def assign(
        self,
        crm: str,
        crm_id: str,
        *,
        owner: str,
        crm_owner_id: str | None,
        rule: str | None,
        sla_due: datetime | None,
        now: datetime,
        status: LeadStatus = LeadStatus.ROUTED,
        flush: bool = True,
    ) -> LeadRecord:
        """Record a routing decision: `status` (routed, reassigned or escalated_final),
        assignment +1 (read it back for the outbox keys), previous owner kept, re-assignment
        counted."""
        row = self._require(crm, crm_id)
        if row.assignment > 0:
            _set(row, "reassignments", row.reassignments + 1)
        if row.owner is not None and row.owner != owner:
            _set(row, "previous_owner", row.owner)
        _set(row, "owner", owner)
        _set(row, "crm_owner_id", crm_owner_id)
        _set(row, "rule", rule)
        _set(row, "assignment", row.assignment + 1)
        _set(row, "status", LeadStatus(status).value)
        _set(row, "assigned_at", as_utc(now))
        _set(row, "sla_due", as_utc(sla_due) if sla_due else None)
        _set(row, "held_until", None)
        _set(row, "owner_written_at", None)
        _set(row, "updated_at", as_utc(now))
        if flush:
            self.session.flush()
        return self._changed(row)

    def mark_breached(self, crm: str, crm_id: str, *, now: datetime,
                      flush: bool = True) -> LeadRecord:
        """SLA missed: status `breached`, the current owner excluded from re-routing."""
        row = self._require(crm, crm_id)
        excluded = set(row.excluded or [])
        if row.owner:
            excluded.add(row.owner)
        _set(row, "excluded", sorted(excluded))
        _set(row, "status", LeadStatus.BREACHED.value)
        _set(row, "updated_at", as_utc(now))
        if flush:
            self.session.flush()
        return self._changed(row)

    def open_counts(self) -> dict[str, int]:
        """Open leads per coordinator: owner set and status routed, owner_written,
        task_created or breached (assigned, not yet contacted, not handed over)."""
        stmt = (
            select(LeadRow.owner, func.count())
            .where(LeadRow.portal == self.portal, col(LeadRow.status).in_(_values(OPEN_STATUSES)),
                   col(LeadRow.owner).is_not(None))
            .group_by(LeadRow.owner)
        )
        return {str(owner): int(n) for owner, n in self.session.exec(stmt)}

    def due_for_sla(self, now: datetime, *, limit: int = 500, lock: bool = False
                    ) -> list[LeadRecord]:
        """Leads whose SLA clock runs (routed, owner_written, task_created) and whose
        deadline is at or before `now`, oldest deadline first. `lock` skips rows another
        worker holds (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
        stmt = (
            select(LeadRow)
            .where(
                LeadRow.portal == self.portal,
                col(LeadRow.status).in_(_values(SLA_RUNNING_STATUSES)),
                col(LeadRow.sla_due).is_not(None),
                col(LeadRow.sla_due) <= as_utc(now),
            )
            .order_by(col(LeadRow.sla_due), col(LeadRow.id))
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [record_of(row) for row in self.session.exec(stmt)]

    def held_due(self, now: datetime, *, limit: int = 500, lock: bool = False
                 ) -> list[LeadRecord]:
        """Held leads whose release time has come, earliest first."""
        stmt = (
            select(LeadRow)
            .where(
                LeadRow.portal == self.portal,
                LeadRow.status == LeadStatus.HELD.value,
                col(LeadRow.held_until).is_not(None),
                col(LeadRow.held_until) <= as_utc(now),
            )
            .order_by(col(LeadRow.held_until), col(LeadRow.id))
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [record_of(row) for row in self.session.exec(stmt)]

    def by_status(
        self,
        *statuses: LeadStatus | str,
        owner: str | None = None,
        limit: int | None = None,
        updated_before: datetime | None = None,
        lock: bool = False,
    ) -> list[LeadRecord]:
        """Leads in any of `statuses` (all leads when none given), oldest first; only those
        last changed before `updated_before` when given. `lock` holds the rows and skips
        rows another worker holds (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
        stmt = select(LeadRow).where(LeadRow.portal == self.portal)
        if statuses:
            stmt = stmt.where(col(LeadRow.status).in_(_values(statuses)))
        if owner is not None:
            stmt = stmt.where(LeadRow.owner == owner)
        if updated_before is not None:
            stmt = stmt.where(col(LeadRow.updated_at) < as_utc(updated_before))
        stmt = stmt.order_by(col(LeadRow.created_at), col(LeadRow.id))
        if limit is not None:
            stmt = stmt.limit(limit)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [self._record_of(self._keep(row, lock)) for row in self.session.exec(stmt)]

    def watched(self, *statuses: LeadStatus | str) -> list[WatchedLead]:
        """`by_status` of the columns the SLA scan reads, oldest first: a few values per lead
        rather than whole rows, as a scan reads every open lead."""
        c = LeadRow.__table__.c  # type: ignore[attr-defined]
        stmt = (sa_select(c.crm_id, c.status, c.assignment, c.crm_owner_id, c.assigned_at,
                          c.sla_due, c.contacted_at)
                .where(c.portal == self.portal, c.status.in_(_values(statuses)))
                .order_by(c.created_at, c.id))
        return [WatchedLead(*row) for row in self.session.execute(stmt)]

    def _keep(self, row: LeadRow, locked: bool) -> LeadRow:
        """A row a query read, kept for this transaction (the session's own object: the
        next `get` of it needs no query)."""
        key = (row.crm, row.crm_id)
        self._rows[key] = row
        if locked:
            self._locked.add(key)
        return row

    def statuses(self, crm: str, crm_ids: Iterable[str]) -> dict[str, str]:
        """The status of each of `crm_ids` the store knows."""
        return {crm_id: str(status) for crm_id, (status,) in
                self._columns(crm, crm_ids, LeadRow.status).items()}

    def assignments(self, crm: str, crm_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """(assignment number, status) of each of `crm_ids` the store knows: two columns
        read, not whole leads (a task batch checks only these)."""
        return {crm_id: (int(number), str(status)) for crm_id, (number, status) in
                self._columns(crm, crm_ids, LeadRow.assignment, LeadRow.status).items()}

    def _columns(self, crm: str, crm_ids: Iterable[str],
                 *columns: Any) -> dict[str, tuple[Any, ...]]:
        ids = sorted(set(crm_ids))
        out: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(ids), 500):
            stmt = select(LeadRow.crm_id, *columns).where(
                LeadRow.portal == self.portal, LeadRow.crm == crm,
                col(LeadRow.crm_id).in_(ids[start:start + 500]))
            out.update({str(row[0]): tuple(row[1:]) for row in self.session.exec(stmt)})
        return out

    def count_by_status(self) -> dict[str, int]:
        stmt = (select(LeadRow.status, func.count()).where(LeadRow.portal == self.portal)
                .group_by(LeadRow.status))
        return {str(status): int(n) for status, n in self.session.exec(stmt)}

    def attribute_batch(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """(row id, stored attributes) after `after_id`, in id order (the one-time scrub)."""
        stmt = (select(LeadRow.id, LeadRow.attributes)
                .where(LeadRow.portal == self.portal, col(LeadRow.id) > after_id)
                .order_by(col(LeadRow.id)).limit(limit))
        return [(int(i or 0), dict(a or {})) for i, a in self.session.exec(stmt)]

    def replace_attributes(self, row_id: int, attributes: Mapping[str, str]) -> None:
        row = self.session.get(LeadRow, row_id)
        if row is not None and row.portal == self.portal:
            row.attributes = dict(attributes)
            self.session.add(row)
            self._records.pop((row.crm, row.crm_id), None)

    def _require(self, crm: str, crm_id: str) -> LeadRow:
        row = self._row(crm, crm_id)
        if row is None:
            raise LookupError(f"no lead {crm}/{crm_id} in the store")
        return row


def _set(row: LeadRow, field: str, value: Any) -> None:
    # through SQLAlchemy's attribute only: SQLModel's __setattr__ also runs pydantic's, which
    # a table row does not need and which costs most of a change's field writes
    set_attribute(row, field, value)


def _values(statuses: Iterable[LeadStatus | str]) -> list[str]:
    return sorted(LeadStatus(s).value for s in statuses)
