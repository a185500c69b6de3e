"""Concurrent writers: processes and threads on real SQLite files, threads on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from routing.models import PointerUpdate
from state import Store, StoreUnavailable, open_store
from state import migrations as mig
from tests.state.conftest import open_concurrently

INCREMENTS = 40


def _increment(store: Store, times: int) -> None:
    """Read-modify-write a counter: lost updates would show if writers interleaved."""
    for _ in range(times):
        with store.unit_of_work() as uow:
            value = int(uow.cursors.get("counter", lock=True) or "0")
            uow.cursors.set("counter", str(value + 1))
            uow.commit()


def _process_writer(url: str, worker: int, times: int) -> None:
    store = open_store(url)  # every process migrates/opens the same fresh file at once
    try:
        _increment(store, times)
        with store.unit_of_work() as uow:
            for i in range(times):
                uow.inbox.add("hubspot", f"w{worker}-{i}", str(i), "contact.creation")
                uow.inbox.add("hubspot", f"shared-{i}", str(i), "contact.creation")
            uow.commit()
    finally:
        store.close()


def test_sqlite_processes_write_concurrently_without_lock_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ctx = multiprocessing.get_context("spawn")
    workers = 4
    procs = [ctx.Process(target=_process_writer, args=(url, w, INCREMENTS)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * workers
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            assert uow.cursors.get("counter") == str(workers * INCREMENTS)
            assert uow.inbox.backlog() == workers * INCREMENTS + INCREMENTS
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM schema_meta")).scalar() == 1
            assert mig.read_version(conn) == mig.SCHEMA_VERSION
            conn.rollback()
    finally:
        store.close()


def test_threads_read_modify_write_without_lost_updates(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.cursors.set("counter", "0")  # FOR UPDATE needs a row to lock on PostgreSQL
        uow.commit()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(_increment, store, INCREMENTS // 2) for _ in range(4)]:
            f.result()
    with store.unit_of_work() as uow:
        assert uow.cursors.get("counter") == str(4 * (INCREMENTS // 2))


def test_routing_lock_serialises_pointer_updates(store: Store) -> None:
    """load_roster(lock=True) -> route -> save_pointer -> commit is atomic on both DBs."""

    def route_once(times: int) -> None:
        for _ in range(times):
            with store.unit_of_work() as uow:
                roster = uow.pointers.load_roster()
                n = dict(roster.weights.get("rr", {})).get("n", 0)
                uow.pointers.save_pointer(PointerUpdate("rr", weights={"n": n + 1}))
                uow.commit()

    with ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(route_once, 15) for _ in range(4)]:
            f.result()
    with store.unit_of_work() as uow:
        assert uow.pointers.get("rr") == PointerUpdate("rr", None, {"n": 60})


def test_concurrent_duplicate_inbox_and_outbox_inserts(store: Store) -> None:
    keys = [f"evt-{i}" for i in range(30)]
    barrier = threading.Barrier(4)

    def add_all() -> list[str]:
        barrier.wait()
        won: list[str] = []
        for key in keys:
            with store.unit_of_work() as uow:
                if uow.inbox.add("hubspot", key, "1", "contact.creation"):
                    won.append(key)
                uow.outbox.enqueue(f"lead/{key}/v1/task", "hubspot", key, "task", {})
                uow.commit()
        return won

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result() for f in [pool.submit(add_all) for _ in range(4)]]
    wins = Counter(k for won in results for k in won)
    assert wins == Counter({k: 1 for k in keys})
    with store.unit_of_work() as uow:
        assert uow.inbox.backlog() == len(keys)
        assert uow.outbox.count_by_status() == {"pending": len(keys)}


def test_concurrent_first_open_migrates_once(store_url: str) -> None:
    assert open_concurrently(store_url) == []
    store = open_store(store_url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM schema_meta")).scalar() == 1
            conn.rollback()
    finally:
        store.close()


def _hold_write_lock(path: str, seconds: float, locked: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_busy_timeout_waits_for_the_lock(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    locked = threading.Event()
    holder = threading.Thread(
        target=_hold_write_lock, args=(sqlite_url.removeprefix("sqlite:///"), 0.5, locked)
    )
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        with store.unit_of_work() as uow:
            uow.cursors.set("c", "v")
            uow.commit()
        assert time.monotonic() - started >= 0.3
    finally:
        holder.join()
        store.close()


def test_busy_timeout_is_the_configured_bound(sqlite_url: str) -> None:
    store = open_store(sqlite_url, busy_timeout_ms=100)
    locked = threading.Event()
    holder = threading.Thread(
        target=_hold_write_lock, args=(sqlite_url.removeprefix("sqlite:///"), 1.5, locked)
    )
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked") as info, store.unit_of_work() as uow:
            uow.cursors.set("c", "v")
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert time.monotonic() - started < 1.0
    finally:
        holder.join()
        store.close()
