"""Lead rows: idempotent arrival, lifecycle updates, capacity and SLA queries.

Every query is bound to one portal. Reads hand out `LeadRecord` values, never ORM rows:
the repository works on the table (SQLAlchemy Core), keeps the records it read or changed
for the transaction, and sends its changes as one UPDATE per set of changed columns at the
next flush -- before any other statement of the unit (a hook of the unit's session), at
`UnitOfWork.flush`, at a savepoint's edges and at commit.
The status itself is only changed by `sync/lifecycle.py` (a test holds `sync/` to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session

from state.crm_kinds import checked_crm
from state.records import LeadRecord, WatchedLead
from state.repos._sql import insert_ignore_many, select_in, update_values
from state.repos.lead_values import (
    RECORD_COLUMNS,
    clean_attributes,
    new_record,
    record_of,
    source_of,
    with_changes,
)
from state.tables import (
    DEFAULT_PORTAL,
    OPEN_STATUSES,
    SLA_RUNNING_STATUSES,
    LeadRow,
    LeadStatus,
)
from state.types import as_utc, utcnow

_T: Any = LeadRow.__table__  # type: ignore[attr-defined]
_C: Any = _T.c
_UPDATABLE = frozenset(LeadRow.model_fields) - {"id", "portal", "crm", "crm_id", "first_seen_at"}
_DATETIME_FIELDS = frozenset(
    {"created_at", "assigned_at", "owner_written_at", "sla_due", "held_until", "contacted_at",
     "first_owner_at"}
)
Key = tuple[str, str]  # (crm, crm id)


class LeadRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal
        # records read or changed in this transaction, by (crm, crm_id): a change reads its
        # lead several times (the transition, its subscribers, the step around it).
        # `forget()` at commit, rollback and an undone savepoint, when they may no longer be.
        self._records: dict[Key, LeadRecord] = {}
        self._locked: set[Key] = set()
        # changes not sent yet: row id -> changed columns and their values
        self._pending: dict[int, dict[str, Any]] = {}

    def forget(self) -> None:
        """Drop what this transaction read, and changes not sent (an undone unit's)."""
        self._records.clear()
        self._locked.clear()
        self._pending.clear()

    def flush(self) -> None:
        """Send the changes made since the last flush: one UPDATE per run of leads with the
        same changed columns (a batch of leads changed alike is one executemany)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        # in row id order, as the ORM's flush: two workers changing the same rows lock them
        # in the same order (PostgreSQL), so neither waits for the other in a cycle
        runs: list[tuple[frozenset[str], list[dict[str, Any]]]] = []
        for row_id in sorted(pending):
            changes = pending[row_id]
            columns = frozenset(changes)
            if not runs or runs[-1][0] != columns:
                runs.append((columns, []))
            runs[-1][1].append({**changes, "id": row_id})
        for _, rows in runs:
            update_values(self.session, LeadRow, rows, ("id",))

    def get(self, crm: str, crm_id: str, *, lock: bool = False) -> LeadRecord | None:
        """`lock=True` holds the row (SELECT ... FOR UPDATE on PostgreSQL) until commit."""
        key = (crm, crm_id)
        known = self._records.get(key)
        if known is not None and (not lock or key in self._locked):
            return known
        stmt = sa_select(*RECORD_COLUMNS).where(_C.portal == self.portal, _C.crm == crm,
                                                _C.crm_id == crm_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.execute(stmt).first()
        if row is None:
            return None
        record = self._records[key] = record_of(row)
        if lock:
            self._locked.add(key)
        return record

    def get_many(self, crm: str, crm_ids: Iterable[str]) -> dict[str, LeadRecord]:
        """The stored leads among `crm_ids`, by CRM id, read in one query per 500 (and kept
        for this transaction like `get`'s)."""
        ids = list(crm_ids)
        records = self._records
        wanted = sorted({i for i in ids if (crm, i) not in records})
        for row in select_in(self.session, RECORD_COLUMNS,
                             {"portal": self.portal, "crm": crm}, "crm_id", wanted):
            record = record_of(row)
            records[(crm, record.crm_id)] = record
        out: dict[str, LeadRecord] = {}
        for crm_id in ids:
            known = records.get((crm, crm_id))
            if known is not None:
                out[crm_id] = known
        return out

    def status_of(self, crm: str, crm_ids: Iterable[str]) -> dict[str, str]:
        """`get_many`'s statuses only (the leads are kept for this transaction just the same)."""
        return {crm_id: record.status for crm_id, record in self.get_many(crm, crm_ids).items()}

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
        lead = self._require(crm, crm_id)
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"not updatable lead fields: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for field, value in changes.items():
            if field == "status":
                value = LeadStatus(value).value
            elif field == "attributes":
                value = clean_attributes(value)
                values["source"] = source_of(value)
            elif field == "excluded":
                value = sorted({str(v) for v in value})
            elif field in _DATETIME_FIELDS and value is not None:
                value = as_utc(value)
            values[field] = value
        values["updated_at"] = as_utc(now) if now else utcnow()
        return self._change(lead, values, flush)

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
        lead = self._require(crm, crm_id)
        at = as_utc(now)
        values: dict[str, Any] = {
            "owner": owner, "crm_owner_id": crm_owner_id, "rule": rule,
            "assignment": lead.assignment + 1, "status": LeadStatus(status).value,
            "assigned_at": at, "sla_due": as_utc(sla_due) if sla_due else None,
            "held_until": None, "owner_written_at": None, "updated_at": at}
        if lead.assignment > 0:
            values["reassignments"] = lead.reassignments + 1
        if lead.owner is not None and lead.owner != owner:
            values["previous_owner"] = lead.owner
        return self._change(lead, values, flush)

    def mark_breached(self, crm: str, crm_id: str, *, now: datetime,
                      flush: bool = True) -> LeadRecord:
        """SLA missed: status `breached`, the current owner excluded from re-routing."""
        lead = self._require(crm, crm_id)
        excluded = set(lead.excluded)
        if lead.owner:
            excluded.add(lead.owner)
        return self._change(lead, {"excluded": sorted(excluded),
                                   "status": LeadStatus.BREACHED.value,
                                   "updated_at": as_utc(now)}, flush)

    def _change(self, lead: LeadRecord, values: dict[str, Any], flush: bool) -> LeadRecord:
        """Apply `values` (columns as stored) to `lead`'s record now and to its row at the
        next flush; the changed record (the one later reads hand out)."""
        assert lead.id is not None  # a stored lead has its id
        changed = self._records[(lead.crm, lead.crm_id)] = with_changes(lead, values)
        pending = self._pending.get(lead.id)
        if pending is None:
            self._pending[lead.id] = values
        else:
            pending.update(values)
        if flush:
            self.flush()
        return changed

    def open_counts(self) -> dict[str, int]:
        """Open leads per coordinator: owner set and status routed, owner_written,
        task_created or breached (assigned, not yet contacted, not handed over)."""
        stmt = (
            sa_select(_C.owner, func.count())
            .where(_C.portal == self.portal, _C.status.in_(_values(OPEN_STATUSES)),
                   _C.owner.is_not(None))
            .group_by(_C.owner)
        )
        return {str(owner): int(n) for owner, n in self.session.execute(stmt)}

    def due_for_sla(self, now: datetime, *, limit: int = 500, lock: bool = False
                    ) -> list[LeadRecord]:
        """Leads whose SLA clock runs (routed, owner_written, task_created) and whose
        deadline is at or before `now`, oldest deadline first. `lock` skips rows another
        worker holds (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
        stmt = (
            sa_select(*RECORD_COLUMNS)
            .where(
                _C.portal == self.portal,
                _C.status.in_(_values(SLA_RUNNING_STATUSES)),
                _C.sla_due.is_not(None),
                _C.sla_due <= as_utc(now),
            )
            .order_by(_C.sla_due, _C.id)
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [record_of(row) for row in self.session.execute(stmt)]

    def held_due(self, now: datetime, *, limit: int = 500, lock: bool = False
                 ) -> list[LeadRecord]:
        """Held leads whose release time has come, earliest first."""
        stmt = (
            sa_select(*RECORD_COLUMNS)
            .where(
                _C.portal == self.portal,
                _C.status == LeadStatus.HELD.value,
                _C.held_until.is_not(None),
                _C.held_until <= as_utc(now),
            )
            .order_by(_C.held_until, _C.id)
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [record_of(row) for row in self.session.execute(stmt)]

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
        rows another worker holds (FOR UPDATE SKIP LOCKED on PostgreSQL). The leads are
        kept for this transaction: the next `get` of one needs no query."""
        stmt = sa_select(*RECORD_COLUMNS).where(_C.portal == self.portal)
        if statuses:
            stmt = stmt.where(_C.status.in_(_values(statuses)))
        if owner is not None:
            stmt = stmt.where(_C.owner == owner)
        if updated_before is not None:
            stmt = stmt.where(_C.updated_at < as_utc(updated_before))
        stmt = stmt.order_by(_C.created_at, _C.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        out: list[LeadRecord] = []
        for row in self.session.execute(stmt):
            record = record_of(row)
            key = (record.crm, record.crm_id)
            self._records[key] = record
            if lock:
                self._locked.add(key)
            out.append(record)
        return out

    def watched(self, *statuses: LeadStatus | str) -> list[WatchedLead]:
        """`by_status` of the columns the SLA scan reads, oldest first: a few values per lead
        rather than whole rows, as a scan reads every open lead."""
        stmt = (sa_select(_C.crm_id, _C.status, _C.assignment, _C.crm_owner_id, _C.assigned_at,
                          _C.sla_due, _C.contacted_at)
                .where(_C.portal == self.portal, _C.status.in_(_values(statuses)))
                .order_by(_C.created_at, _C.id))
        return [WatchedLead(*row) for row in self.session.execute(stmt)]

    def statuses(self, crm: str, crm_ids: Iterable[str]) -> dict[str, str]:
        """The status of each of `crm_ids` the store knows."""
        return {crm_id: str(status) for crm_id, (status,) in
                self._columns(crm, crm_ids, _C.status).items()}

    def assignments(self, crm: str, crm_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """(assignment number, status) of each of `crm_ids` the store knows: two columns
        read, not whole leads (a task batch checks only these)."""
        return {crm_id: (int(number), str(status)) for crm_id, (number, status) in
                self._columns(crm, crm_ids, _C.assignment, _C.status).items()}

    def _columns(self, crm: str, crm_ids: Iterable[str],
                 *columns: Any) -> dict[str, tuple[Any, ...]]:
        rows = select_in(self.session, (_C.crm_id, *columns),
                         {"portal": self.portal, "crm": crm}, "crm_id", sorted(set(crm_ids)))
        return {str(row[0]): tuple(row[1:]) for row in rows}

    def count_by_status(self) -> dict[str, int]:
        stmt = (sa_select(_C.status, func.count()).where(_C.portal == self.portal)
                .group_by(_C.status))
        return {str(status): int(n) for status, n in self.session.execute(stmt)}

    def attribute_batch(self, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """(row id, stored attributes) after `after_id`, in id order (the one-time scrub)."""
        stmt = (sa_select(_C.id, _C.attributes)
                .where(_C.portal == self.portal, _C.id > after_id)
                .order_by(_C.id).limit(limit))
        return [(int(i or 0), dict(a or {})) for i, a in self.session.execute(stmt)]

    def replace_attributes(self, row_id: int, attributes: Mapping[str, str]) -> None:
        self.session.execute(sa_update(_T).where(_C.id == row_id, _C.portal == self.portal)
                             .values(attributes=dict(attributes)))
        for key, record in list(self._records.items()):  # the one-time scrub: a few rows
            if record.id == row_id:
                del self._records[key]

    def _require(self, crm: str, crm_id: str) -> LeadRecord:
        lead = self.get(crm, crm_id)
        if lead is None:
            raise LookupError(f"no lead {crm}/{crm_id} in the store")
        return lead


def _values(statuses: Iterable[LeadStatus | str]) -> list[str]:
    return sorted(LeadStatus(s).value for s in statuses)
