"""Outbox claims tied to the claiming process's PostgreSQL session.

A claim on SQLite (one process per file) is a lease: the row's next attempt moves past the
lease. On PostgreSQL several workers share the outbox, and a lease alone makes a SIGKILLed
worker's rows wait the whole lease -- owners written, tasks not created, minutes after the
kill. So there a claim is a session-level advisory lock per row, held on one connection
of the process: other workers skip a row whose lock is taken, and when the process dies
the server drops its session and its locks at once, so the rows are claimable again
right away. The lock goes when the row's outcome is committed (`UnitOfWork.commit`), and
at the latest after the lease -- as long as a lease ever protected a row (a slow call
still renews its rows' lease, `sync.claims`).

Only PostgreSQL's own primitives: no heartbeat rows, no home-made lock table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

# advisory lock space of outbox claims (second key: the row id); see state.db for the others
CLAIM_LOCK = 0x1EAD_0005
_TAKE = text("SELECT id FROM unnest(CAST(:ids AS integer[])) AS t(id) "
             "WHERE pg_try_advisory_lock(:space, id)")
_GIVE = text("SELECT pg_advisory_unlock(:space, id) FROM unnest(CAST(:ids AS integer[])) "
             "AS t(id)")


class ClaimLocks:
    """This process's claim locks on one PostgreSQL database (shared by its portals)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._held: dict[int, float] = {}  # row id -> monotonic time its claim ends
        self._lock = threading.Lock()

    def take(self, ids: Sequence[int], limit: int, lease: float) -> list[int]:
        """Lock up to `limit` of `ids` (in order) for this process; the ones locked.
        Rows this process holds already, or another worker holds, are left out."""
        with self._lock:
            self._expire()
            wanted = [i for i in ids if i not in self._held]
            if not wanted:
                return []
            try:
                conn = self._connection()
                got = {int(row[0]) for row in conn.execute(
                    _TAKE, {"space": CLAIM_LOCK, "ids": wanted})}
                taken = [i for i in wanted if i in got][:limit]
                extra = sorted(got - set(taken))
                if extra:
                    conn.execute(_GIVE, {"space": CLAIM_LOCK, "ids": extra})
            except SQLAlchemyError:
                self._drop()
                raise
            until = time.monotonic() + lease
            self._held.update((i, until) for i in taken)
            return taken

    def release(self, ids: Iterable[int]) -> None:
        """The rows' outcomes are committed: other workers may take them (if due)."""
        with self._lock:
            mine = [i for i in ids if self._held.pop(i, None) is not None]
            self._give(mine)

    def holds(self, outbox_id: int) -> bool:
        with self._lock:
            return outbox_id in self._held

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _expire(self) -> None:
        """A claim never outlives its lease (an outcome that was never recorded)."""
        now = time.monotonic()
        stale = [i for i, until in self._held.items() if until <= now]
        for i in stale:
            del self._held[i]
        self._give(stale)

    def _give(self, ids: list[int]) -> None:
        if not ids or self._conn is None:
            return
        try:
            self._conn.execute(_GIVE, {"space": CLAIM_LOCK, "ids": ids})
        except SQLAlchemyError:
            self._drop()  # the session is gone, and its locks with it

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            # autocommit: the locks belong to the session; no transaction stays open
            self._conn = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        """Forget the session (and so every lock it held: the server releases them)."""
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:
                pass
