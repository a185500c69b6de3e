"""What the rows a routed lead needs cost SQLite itself: the floor under the store's own work.

A lead drained from a backlog (`bench/backlog.py`) is written as: its row; four lifecycle
changes (arrived, routed, owner written, task created), each a lead update, an audit row
and a lead event; its assignment, written and settled; an owner write and a task in the
outbox, each queued, claimed (read, then leased) and settled, the task's attempt counted.
This runs exactly those statements through the bare `sqlite3` driver (no SQLAlchemy, no
records, no routing, no CRM) on the real schema (a store made by `open_store`, with its
indexes and pragmas), in the same transactions per batch as the drain, and prints what they
cost per lead. Compare its CPU with the sync process's CPU that `bench/backlog.py` prints:
the difference is the store's and pipeline's own Python work, not SQLite's.

    .venv/bin/python bench/store_floor.py [--leads 10000] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

# bench/routing.py is named like the `routing` package: keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from state import open_store  # noqa: E402
from state.db import WAL_CHECKPOINT_PAGES  # noqa: E402

T = TypeVar("T")
P = "default"
CRM = "hubspot"
CHANGES = ("arrived", "routed", "owner_written", "task_created")
STATUS = {"arrived": "seen", "routed": "routed", "owner_written": "owner_written",
          "task_created": "task_created"}


def _text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:-6]


class Batch:
    """One batch of leads through the drain's transactions, as bare statements."""

    def __init__(self, db: sqlite3.Connection, crm_ids: list[str], now: datetime) -> None:
        self.db, self.ids, self.now = db, crm_ids, _text(now)
        self.lease = _text(now + timedelta(minutes=2))
        self.row_ids: list[int] = []

    def _change(self, event: str, was: str | None, extra: str = "",
                extra_values: tuple[object, ...] = ()) -> None:
        db, now = self.db, self.now
        if was is not None:  # the arrival's row is inserted with its status
            db.executemany(f"UPDATE lead SET status = ?, updated_at = ?{extra} WHERE id = ?",
                           [(STATUS[event], now, *extra_values, i) for i in self.row_ids])
        detail = json.dumps({"reason": "rule", "sla_due": now})
        first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM audit").fetchone()[0]
        db.executemany(
            "INSERT INTO audit (id, portal, crm, crm_id, at, kind, coordinator, rule, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(first + n, P, CRM, c, now, STATUS[event], "maria", "intake", detail)
             for n, c in enumerate(self.ids)])
        db.executemany(
            "INSERT INTO lead_events (portal, crm, crm_id, assignment, event, from_status,"
            " to_status, coordinator, rule, at, audit_id, detail)"
            " VALUES (?, ?, ?, 1, ?, ?, ?, 'maria', 'intake', ?, ?, ?)",
            [(P, CRM, c, event, was, STATUS[event], now, first + n, detail)
             for n, c in enumerate(self.ids)])

    def arrive(self) -> None:
        attributes = json.dumps({"state": "CO", "insurance": "ppo", "level_of_care": "iop",
                                 "source": "web"})
        cur = self.db.cursor()
        for crm_id in self.ids:
            cur.execute(
                "INSERT INTO lead (portal, crm, crm_id, created_at, first_seen_at, attributes,"
                " status, assignment, reassignments, excluded, updated_at, source)"
                " VALUES (?, ?, ?, ?, ?, ?, 'seen', 0, 0, '[]', ?, 'web')",
                (P, CRM, crm_id, self.now, self.now, attributes, self.now))
            self.row_ids.append(int(cur.lastrowid or 0))
        self._change("arrived", None)

    def route(self) -> None:
        now = self.now
        self._change("routed", "seen", ", owner = 'maria', crm_owner_id = '1001',"
                     " assignment = 1, rule = 'intake', assigned_at = ?, sla_due = ?,"
                     " first_reason = 'rule'", (now, now))
        self.db.executemany(
            "INSERT INTO assignment (portal, crm, crm_id, number, lead_created_at, kind,"
            " coordinator, rule, reason, assigned_at, sla_due)"
            " VALUES (?, ?, ?, 1, ?, 'routed', 'maria', 'intake', 'rule', ?, ?)",
            [(P, CRM, c, now, now, now) for c in self.ids])
        self._queue("owner", {"owner": "1001"})

    def _queue(self, kind: str, payload: dict[str, str]) -> None:
        self.db.executemany(
            "INSERT INTO outbox (portal, key, crm, crm_id, kind, payload, status, attempts,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            [(P, f"lead/{c}/v1/{kind}", CRM, c, kind, json.dumps(payload), self.now, self.now)
             for c in self.ids])

    def claim(self, kind: str) -> list[int]:
        rows = self.db.execute(
            "SELECT id, key, crm_id, payload, attempts FROM outbox WHERE portal = ? AND"
            " status = 'pending' AND next_attempt_at <= ? AND kind = ? ORDER BY id LIMIT ?",
            (P, self.now, kind, len(self.ids))).fetchall()
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        self.db.execute(f"UPDATE outbox SET next_attempt_at = ? WHERE id IN ({marks})",
                        (self.lease, *ids))
        if kind == "task":  # counted before a create that is not idempotent
            self.db.execute(f"UPDATE outbox SET attempts = attempts + 1 WHERE id IN ({marks})",
                            ids)
        return ids

    def settle(self, ids: list[int], kind: str) -> None:
        self.db.executemany(
            "UPDATE outbox SET status = 'done', result = ?, done_at = ?, last_error = NULL"
            " WHERE id = ?", [(f"{kind}-{i}", self.now, i) for i in ids])

    def owners_written(self, ids: list[int]) -> None:
        now = self.now
        self.settle(ids, "owner")
        self._change("owner_written", "routed", ", owner_written_at = ?, first_owner_at = ?",
                     (now, now))
        self.db.executemany(
            "UPDATE assignment SET owner_written_at = ? WHERE portal = ? AND crm = ? AND"
            " crm_id = ? AND number = 1", [(now, P, CRM, c) for c in self.ids])
        self._queue("task", {"owner": "1001", "due": now})

    def tasks_created(self, ids: list[int]) -> None:
        self.settle(ids, "task")
        self._change("task_created", "owner_written")


def drain(db: sqlite3.Connection, leads: int, batch: int) -> int:
    """Transactions for `leads` in batches of `batch`."""
    transactions = 0

    def unit(work: Callable[[], T]) -> T:
        nonlocal transactions
        db.execute("BEGIN IMMEDIATE")
        out = work()
        db.execute("COMMIT")
        transactions += 1
        return out

    now = datetime.now(UTC)
    for start in range(0, leads, batch):
        b = Batch(db, [str(10_000_000 + n) for n in range(start, min(leads, start + batch))],
                  now)
        unit(b.arrive)
        unit(b.route)
        unit(partial(b.owners_written, unit(partial(b.claim, "owner"))))
        unit(partial(b.tasks_created, unit(partial(b.claim, "task"))))
    return transactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        open_store(f"sqlite:///{path}").close()  # the real schema, indexes and WAL
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        wall, cpu = time.perf_counter(), time.process_time()
        transactions = drain(db, args.leads, args.batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        written = db.execute("SELECT count(*) FROM lead WHERE status = 'task_created'")
        done = int(written.fetchone()[0])
        rows = {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("lead", "audit", "lead_events", "assignment", "outbox")}
        db.close()
    assert done == args.leads, f"{done} of {args.leads} leads reached task_created"
    per = 1e6 / args.leads
    print(f"leads               {args.leads}  (batches of {args.batch}, all task_created)")
    print(f"rows kept           {sum(rows.values())}  "
          + ", ".join(f"{t} {n}" for t, n in rows.items()))
    print(f"transactions        {transactions}")
    print(f"wall time           {wall:.2f} s  ({wall * per:.0f} us per lead)")
    print(f"CPU                 {cpu:.2f} s  ({cpu * per:.0f} us per lead; SQLite's work"
          " plus the bare driver calls)")


if __name__ == "__main__":
    main()
