"""Pending CRM writes, committed with the decision that caused them and performed later
by the applier. Idempotent by key (e.g. `lead/<crm-id>/v<assignment>/task`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from state.repos._sql import insert_ignore
from state.tables import Crm, OutboxKind, OutboxRow, OutboxStatus
from state.types import as_utc, utcnow

MAX_ERROR_LENGTH = 200
DEFAULT_LEASE = timedelta(minutes=2)


def outbox_key(crm_id: str, assignment: int, kind: OutboxKind | str) -> str:
    """The idempotency key convention: `lead/<crm-id>/v<assignment>/<kind>`."""
    return f"lead/{crm_id}/v{assignment}/{OutboxKind(kind).value}"


class OutboxRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

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
        return insert_ignore(
            self.session,
            OutboxRow,
            {
                "key": key,
                "crm": Crm(crm).value,
                "crm_id": crm_id,
                "kind": OutboxKind(kind).value,
                "payload": dict(payload),
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": as_utc(not_before) if not_before else at,
            },
            ["key"],
        )

    def get(self, key: str) -> OutboxRow | None:
        return self.session.exec(select(OutboxRow).where(OutboxRow.key == key)).first()

    def done_results(self, keys: Iterable[str]) -> dict[str, str | None]:
        """`result` of the done rows among `keys` (e.g. created task ids), in one query."""
        wanted = list(keys)
        if not wanted:
            return {}
        stmt = select(OutboxRow.key, OutboxRow.result).where(
            col(OutboxRow.key).in_(wanted), OutboxRow.status == OutboxStatus.DONE.value
        )
        return {str(key): result for key, result in self.session.exec(stmt)}

    def pending(
        self,
        limit: int,
        now: datetime,
        *,
        kind: OutboxKind | str | None = None,
        lock: bool = False,
    ) -> list[OutboxRow]:
        """Pending rows due at `now`, in enqueue order (a lead's owner write precedes its
        task). `lock` skips rows another worker holds (FOR UPDATE SKIP LOCKED on PG)."""
        stmt = select(OutboxRow).where(
            OutboxRow.status == OutboxStatus.PENDING.value,
            col(OutboxRow.next_attempt_at) <= as_utc(now),
        )
        if kind is not None:
            stmt = stmt.where(OutboxRow.kind == OutboxKind(kind).value)
        stmt = stmt.order_by(col(OutboxRow.id)).limit(limit)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.exec(stmt))

    def claim(
        self,
        limit: int,
        now: datetime,
        *,
        lease: timedelta = DEFAULT_LEASE,
        kind: OutboxKind | str | None = None,
    ) -> list[OutboxRow]:
        """Take due pending rows for `lease`: their next attempt moves to now + lease, so
        other workers skip them, and if this one crashes they come due again (at-least-once).

        Commit the unit right away, perform the CRM writes outside any transaction (on
        SQLite a unit of work holds the write lock), then `mark_done`/`mark_failed` in a
        new unit.
        """
        rows = self.pending(limit, now, kind=kind, lock=True)
        until = as_utc(now) + lease
        for row in rows:
            row.next_attempt_at = until
            self.session.add(row)
        self.session.flush()
        return rows

    def renew(self, held: Mapping[int, tuple[datetime, int]], until: datetime) -> set[int]:
        """Extend this worker's claim on rows to `until`; returns the ids still held.

        `held` maps each row id to what this worker's claim left on it (`next_attempt_at`,
        `attempts`). A row another worker has claimed since (its lease ran out) has other
        values and is not touched: compare-and-set, atomic per row, so two workers never
        both hold a row. Call right before a non-idempotent write so the claim outlasts it.
        """
        kept: set[int] = set()
        for outbox_id, (claimed_until, attempts) in held.items():
            stmt = (
                update(OutboxRow)
                .where(
                    col(OutboxRow.id) == outbox_id,
                    col(OutboxRow.status) == OutboxStatus.PENDING.value,
                    col(OutboxRow.next_attempt_at) == as_utc(claimed_until),
                    col(OutboxRow.attempts) == attempts,
                )
                .values(next_attempt_at=as_utc(until))
            )
            if int(getattr(self.session.execute(stmt), "rowcount", 0)) == 1:
                kept.add(outbox_id)
        return kept

    def mark_done(
        self, outbox_id: int, result: str | None = None, *, now: datetime | None = None
    ) -> OutboxRow:
        row = self._require(outbox_id)
        row.status = OutboxStatus.DONE.value
        row.result = result
        row.done_at = as_utc(now) if now else utcnow()
        row.last_error = None
        self.session.add(row)
        return row

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime | None) -> OutboxRow:
        """attempts + 1. With `retry_at` the row stays pending until then; without, it is
        `failed` for good. Keep `error` short and free of lead data (it is truncated)."""
        row = self._require(outbox_id)
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_LENGTH]
        if retry_at is None:
            row.status = OutboxStatus.FAILED.value
        else:
            row.next_attempt_at = as_utc(retry_at)
        self.session.add(row)
        return row

    def cancel_for_lead(
        self, crm: str, crm_id: str, *, kinds: Iterable[OutboxKind | str] | None = None
    ) -> int:
        """Cancel the lead's pending writes (e.g. a person took the lead); returns how many."""
        stmt = (
            update(OutboxRow)
            .where(
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
        stmt = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        return {str(status): int(n) for status, n in self.session.exec(stmt)}

    def _require(self, outbox_id: int) -> OutboxRow:
        row = self.session.get(OutboxRow, outbox_id)
        if row is None:
            raise LookupError(f"no outbox row {outbox_id}")
        return row
