"""Pending CRM writes, committed with the decision that caused them and performed later
by the applier. Idempotent by key (e.g. `lead/<crm-id>/v<assignment>/task`), per portal.
Reads hand out `OutboxItem` values, never ORM rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, func, tuple_, update
from sqlmodel import Session, col, select

from state.claim_locks import ClaimLocks
from state.crm_kinds import checked_crm
from state.outbox_payloads import (
    NotificationPayload,
    OutboxItem,
    OutboxPayload,
    key_assignment,
    outbox_key,
)
from state.repos._sql import (
    bind_value,
    driver_rows,
    insert_ignore,
    insert_ignore_many,
    select_in,
    update_values,
)
from state.tables import DEFAULT_PORTAL, OutboxKind, OutboxRow, OutboxStatus
from state.types import as_utc, utcnow

MAX_ERROR_LENGTH = 200
CANDIDATES = 4  # PostgreSQL claims read this many batches, skipping rows other workers hold
DEFAULT_LEASE = timedelta(minutes=2)


_TABLE: Any = OutboxRow.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(column.name for column in _TABLE.c)  # a plain row of `select(_TABLE)`


def item_of(row: Any) -> OutboxItem:
    """An outbox row (ORM object, or plain row of all the table's columns) as a value."""
    if isinstance(row, Row):
        # by position: a plain row's attributes are looked up by name, a microsecond each
        row = SimpleNamespace(**dict(zip(_COLUMNS, row, strict=True)))
    assert row.id is not None
    return _item(row.id, row.key, row.crm, row.crm_id, row.kind, row.status, row.attempts,
                 row.next_attempt_at, row.payload, row.last_error, row.result, row.done_at)


def _item(row_id: int, key: str, crm: str, crm_id: str, kind: str, status: str, attempts: int,
          next_attempt_at: datetime, payload: Mapping[str, Any] | None, last_error: str | None,
          result: str | None, done_at: datetime | None) -> OutboxItem:
    """An outbox row's values as an item: its assignment parsed from the key, its payload a
    copy (changing an item's payload changes nothing stored)."""
    return OutboxItem(row_id, key, crm, crm_id, kind, key_assignment(key), status, attempts,
                      next_attempt_at, dict(payload or {}), last_error, result, done_at)


# what a claim hands on of each row (all but the times it sets or does not need)
_CLAIMED_NAMES = ("id", "key", "crm", "crm_id", "kind", "status", "attempts", "payload",
                  "last_error", "result", "done_at")
_CLAIMED = tuple(_TABLE.c[name] for name in _CLAIMED_NAMES)


@lru_cache(maxsize=2)
def _claim_sql(of_kind: bool) -> str:
    """SQLite's claim: due pending rows in enqueue order, their next attempt moved to the
    lease's end, in one statement (parameters: until, portal, status, now[, kind], limit)."""
    kind = " AND kind = ?" if of_kind else ""
    return (f"UPDATE outbox SET next_attempt_at = ? WHERE id IN (SELECT id FROM outbox"
            f" WHERE portal = ? AND status = ? AND next_attempt_at <= ?{kind}"
            f" ORDER BY id LIMIT ?) RETURNING {', '.join(_CLAIMED_NAMES)}")


class OutboxRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL, *,
                 claims: ClaimLocks | None = None) -> None:
        self.session = session
        self.portal = portal
        self.claims = claims  # PostgreSQL: claims are this process's session locks
        self.settled: set[int] = set()  # rows whose outcome this unit records

    def enqueue_many_for(self, crm: str, writes: Iterable[tuple[str, int, OutboxPayload]], *,
                         now: datetime) -> int:
        """Queue typed writes, each for one assignment of a lead (crm id, assignment, payload:
        the key is made here), in one statement; how many were new (a key that exists is
        left as it is)."""
        at = as_utc(now)
        rows = [self._pending_row(outbox_key(crm_id, n, p.kind), crm, crm_id, p.kind,
                                  p.to_json(), at) for crm_id, n, p in writes]
        return len(insert_ignore_many(self.session, OutboxRow, rows, ["portal", "key"],
                                      returning="id"))

    def enqueue_notification(self, crm: str, payload: NotificationPayload, *,
                             now: datetime | None = None) -> bool:
        """Queue one message; False (nothing queued) when that (event, assignment, channel)
        was queued before: a message goes out once."""
        return self.enqueue(payload.key, crm, payload.crm_id, OutboxKind.NOTIFY,
                            payload.to_json(), now=now)

    def get_for(self, crm_id: str, assignment: int, kind: OutboxKind) -> OutboxItem | None:
        return self.get(outbox_key(crm_id, assignment, kind))

    def task_results(self, leads: Iterable[tuple[str, int]]) -> dict[str, str | None]:
        """Created task ids of the given (crm id, assignment) pairs, by CRM id."""
        keys = {outbox_key(crm_id, n, OutboxKind.TASK): crm_id for crm_id, n in leads}
        return {keys[key]: value for key, value in self.done_results(keys).items()}

    def enqueue(
        self,
        key: str,
        crm: str,
        crm_id: str,
        kind: OutboxKind | str,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Add a pending write; False (and nothing changed) when the key exists already."""
        at = as_utc(now) if now else utcnow()
        return insert_ignore(self.session, OutboxRow,
                             self._pending_row(key, crm, crm_id, kind, payload, at, not_before),
                             ["portal", "key"])

    def _pending_row(self, key: str, crm: str, crm_id: str, kind: OutboxKind | str,
                     payload: Mapping[str, Any], at: datetime,
                     not_before: datetime | None = None) -> dict[str, Any]:
        return {"portal": self.portal, "key": key, "crm": checked_crm(crm), "crm_id": crm_id,
                "kind": OutboxKind(kind).value, "payload": dict(payload),
                "status": OutboxStatus.PENDING.value, "attempts": 0, "created_at": at,
                "next_attempt_at": as_utc(not_before) if not_before else at}

    def get(self, key: str) -> OutboxItem | None:
        row = self._by_key(key)
        return None if row is None else item_of(row)

    def _by_key(self, key: str) -> OutboxRow | None:
        return self.session.exec(select(OutboxRow).where(
            OutboxRow.portal == self.portal, OutboxRow.key == key)).first()

    def statuses(self, keys: Iterable[str]) -> dict[str, str]:
        """The status of the rows among `keys`, by key, in one query per 500 (one column:
        a task batch asks only whether its owner writes are done)."""
        rows = select_in(self.session, (_TABLE.c.key, _TABLE.c.status),
                         {"portal": self.portal}, "key", sorted(set(keys)))
        return {str(key): str(status) for key, status in rows}

    def done_results(self, keys: Iterable[str]) -> dict[str, str | None]:
        """`result` of the done rows among `keys` (e.g. created task ids), in one query."""
        wanted = list(keys)
        if not wanted:
            return {}
        stmt = select(OutboxRow.key, OutboxRow.result).where(
            OutboxRow.portal == self.portal, col(OutboxRow.key).in_(wanted),
            OutboxRow.status == OutboxStatus.DONE.value,
        )
        return {str(key): result for key, result in self.session.exec(stmt)}

    def pending(
        self,
        limit: int,
        now: datetime,
        *,
        kind: OutboxKind | str | None = None,
        lock: bool = False,
    ) -> list[OutboxItem]:
        """Pending rows due at `now`, in enqueue order (a lead's owner write precedes its
        task). `lock` skips rows another worker holds (FOR UPDATE SKIP LOCKED on PG)."""
        return [item_of(row) for row in self._pending(limit, now, kind=kind, lock=lock)]

    def _pending(self, limit: int, now: datetime, *, kind: OutboxKind | str | None,
                 lock: bool) -> list[Any]:
        """Due pending rows, in enqueue order, as plain rows (`item_of` takes them): a row
        is read once and handed on, never changed through the ORM."""
        stmt = select(_TABLE).where(
            _TABLE.c.portal == self.portal, _TABLE.c.status == OutboxStatus.PENDING.value,
            _TABLE.c.next_attempt_at <= as_utc(now))
        if kind is not None:
            stmt = stmt.where(_TABLE.c.kind == OutboxKind(kind).value)
        stmt = stmt.order_by(_TABLE.c.id).limit(limit)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.execute(stmt).all())

    def claim(
        self,
        limit: int,
        now: datetime,
        *,
        lease: timedelta = DEFAULT_LEASE,
        kind: OutboxKind | str | None = None,
    ) -> list[OutboxItem]:
        """Take due pending rows for `lease`: their next attempt moves to now + lease, so
        other workers skip them, and if this one crashes they come due again (at-least-once).

        Commit the unit right away, perform the CRM writes outside any transaction (on
        SQLite a unit of work holds the write lock), then `mark_done`/`mark_failed` in a
        new unit.
        """
        if self.claims is not None:
            return self._claim_locked(limit, now, lease, kind)
        # SQLite: the unit holds the write lock, so one statement picks and takes the rows
        # (sent as it is: this runs for every batch of a backlog)
        until = as_utc(now) + lease
        params: list[Any] = [bind_value(self.session, _TABLE.c.next_attempt_at, until),
                             self.portal, OutboxStatus.PENDING.value,
                             bind_value(self.session, _TABLE.c.next_attempt_at, as_utc(now))]
        if kind is not None:
            params.append(OutboxKind(kind).value)
        rows = driver_rows(self.session, _claim_sql(kind is not None), [*params, limit],
                           _CLAIMED)
        rows.sort(key=lambda values: values[0])  # RETURNING keeps no order: enqueue order
        self._expire(values[0] for values in rows)
        return [_item(row_id, key, crm, crm_id, kind, status, attempts, until, payload,
                      last_error, result, done_at)
                for (row_id, key, crm, crm_id, kind, status, attempts, payload, last_error,
                     result, done_at) in rows]

    def _claim_locked(self, limit: int, now: datetime, lease: timedelta,
                      kind: OutboxKind | str | None) -> list[OutboxItem]:
        """PostgreSQL: the claim is a lock of this process's session (state.claim_locks),
        so the rows of a worker that dies are free at once; the rows stay due. Candidates
        are read past the rows other workers hold (a few batches' worth)."""
        assert self.claims is not None
        rows = self._pending(limit * CANDIDATES, now, kind=kind, lock=True)
        taken = set(self.claims.take([row.id for row in rows if row.id is not None], limit,
                                     lease.total_seconds()))
        return [item_of(row) for row in rows if row.id in taken]

    def count_attempt(self, outbox_id: int) -> int:
        """attempts + 1 before a non-idempotent call (so a retry looks before it creates)."""
        return self.count_attempts([outbox_id])[outbox_id]

    def count_attempts(self, outbox_ids: Iterable[int], *,
                       claim_until: datetime | None = None) -> dict[int, int]:
        """attempts + 1 of several rows (`count_attempt`), in one statement: row id -> attempts
        now. `claim_until`: the rows' claim also moves to then (a claim this unit made)."""
        ids = sorted(set(outbox_ids))
        if not ids:
            return {}
        values: dict[str, Any] = {"attempts": _TABLE.c.attempts + 1}
        if claim_until is not None:
            values["next_attempt_at"] = as_utc(claim_until)
        stmt = (update(_TABLE)  # the table's, not the ORM's: rows are values here
                .where(_TABLE.c.portal == self.portal, _TABLE.c.id.in_(ids))
                .values(values)
                .returning(_TABLE.c.id, _TABLE.c.attempts))
        self._expire(ids)
        return {int(i): int(n) for i, n in self.session.execute(stmt)}

    def mark_done_many(self, results: Mapping[int, str | None], *, now: datetime) -> None:
        """`mark_done` of several rows (row id -> result), in one statement."""
        if not results:
            return
        self.settled.update(results)
        at = as_utc(now)
        self._expire(results)
        update_values(self.session, OutboxRow, [
            {"id": i, "status": OutboxStatus.DONE.value, "result": r, "done_at": at,
             "last_error": None} for i, r in results.items()], ("id",))

    def _expire(self, ids: Iterable[int]) -> None:
        """Rows this session holds among `ids` are read again after a statement changes them
        behind the ORM's back."""
        if not self.session.identity_map:
            return  # no ORM row held (rows are read as plain values on the hot paths)
        for outbox_id in ids:
            row = self.session.identity_map.get(self.session.identity_key(OutboxRow, outbox_id))
            if row is not None:
                self.session.expire(row)

    def defer(self, outbox_id: int, until: datetime) -> None:
        """Give a claimed row back, due at `until`, with no attempt counted."""
        row = self._require(outbox_id)
        self.settled.add(outbox_id)
        row.next_attempt_at = as_utc(until)
        self.session.add(row)

    def renew(self, held: Mapping[int, tuple[datetime, int]], until: datetime) -> set[int]:
        """Extend this worker's claim on rows to `until`; returns the ids still held.

        `held` maps each row id to what this worker's claim left on it (`next_attempt_at`,
        `attempts`). A row another worker has claimed since (its lease ran out) has other
        values and is not touched: compare-and-set, atomic per row, so two workers never
        both hold a row. Call right before a non-idempotent write so the claim outlasts it.
        """
        if not held:
            return set()
        stmt = (
            update(_TABLE)  # the table's, not the ORM's: rows are values here
            .where(
                _TABLE.c.portal == self.portal,
                _TABLE.c.status == OutboxStatus.PENDING.value,
                tuple_(_TABLE.c.id, _TABLE.c.next_attempt_at, _TABLE.c.attempts).in_(
                    [(i, as_utc(t), n) for i, (t, n) in held.items()]),
            )
            .values(next_attempt_at=as_utc(until))
            .returning(_TABLE.c.id)
        )
        self._expire(held)
        return {int(i) for i in self.session.execute(stmt).scalars()}

    def mark_done(
        self, outbox_id: int, result: str | None = None, *, now: datetime | None = None
    ) -> OutboxItem:
        row = self._require(outbox_id)
        self.settled.add(outbox_id)
        row.status = OutboxStatus.DONE.value
        row.result = result
        row.done_at = as_utc(now) if now else utcnow()
        row.last_error = None
        self.session.add(row)
        return item_of(row)

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime | None, *,
                    counted: bool = False) -> OutboxItem:
        """attempts + 1 (unless `count_attempt` already counted this one). With `retry_at`
        the row stays pending until then; without, it is `failed` for good. Keep `error`
        short and free of lead data (it is truncated)."""
        row = self._require(outbox_id)
        self.settled.add(outbox_id)
        row.attempts += 0 if counted else 1
        row.last_error = error[:MAX_ERROR_LENGTH]
        if retry_at is None:
            row.status = OutboxStatus.FAILED.value
        else:
            row.next_attempt_at = as_utc(retry_at)
        self.session.add(row)
        return item_of(row)

    def cancel_for_lead(
        self, crm: str, crm_id: str, *, kinds: Iterable[OutboxKind | str] | None = None
    ) -> int:
        """Cancel the lead's pending writes (e.g. a person took the lead); returns how many."""
        stmt = (
            update(OutboxRow)
            .where(
                col(OutboxRow.portal) == self.portal,
                col(OutboxRow.crm) == crm,
                col(OutboxRow.crm_id) == crm_id,
                col(OutboxRow.status) == OutboxStatus.PENDING.value,
            )
            .values(status=OutboxStatus.CANCELLED.value)
        )
        if kinds is not None:
            stmt = stmt.where(col(OutboxRow.kind).in_([OutboxKind(k).value for k in kinds]))
        result = self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0))

    def count_by_status(self) -> dict[str, int]:
        stmt = (select(OutboxRow.status, func.count()).where(OutboxRow.portal == self.portal)
                .group_by(OutboxRow.status))
        return {str(status): int(n) for status, n in self.session.exec(stmt)}

    def _require(self, outbox_id: int) -> OutboxRow:
        row = self.session.get(OutboxRow, outbox_id)
        if row is None or row.portal != self.portal:
            raise LookupError(f"no outbox row {outbox_id}")
        return row
