"""The SQLite state file holds lead ids and routing facts: only its owner may read it.

The database and its -wal and -shm files are 0600 whatever the process umask, and a file
left readable by others (an older version, a copy) is tightened when the store opens it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from state import open_store

SUFFIXES = ("", "-wal", "-shm")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(db: Path) -> dict[str, str]:
    return {suffix or "db": oct(stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode))
            for suffix in SUFFIXES}


ALL_0600 = {"db": "0o600", "-wal": "0o600", "-shm": "0o600"}


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000, 0o277], ids=oct)
def test_new_state_files_are_owner_only(tmp_path: Path, mask: int) -> None:
    db = tmp_path / "state.db"
    with umask(mask):
        store = open_store(f"sqlite:///{db}")
        try:
            with store.unit_of_work() as uow:
                uow.cursors.set("hubspot", "2026-03-02T14:00:00+00:00")
                uow.commit()
            # the pooled connection is still open, so the WAL and its index still exist
            assert modes(db) == ALL_0600
        finally:
            store.close()


def test_existing_world_readable_files_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with umask(0o022):
        legacy = sqlite3.connect(db)  # as an older leadrouter left it: 0644
        legacy.execute("PRAGMA journal_mode = WAL")
        legacy.execute("CREATE TABLE t (x)")
        legacy.execute("INSERT INTO t VALUES (1)")
        legacy.commit()
        assert oct(stat.S_IMODE(db.stat().st_mode)) == "0o644"
        store = open_store(f"sqlite:///{db}")  # -wal and -shm exist: `legacy` is open
        try:
            assert modes(db) == ALL_0600
        finally:
            store.close()
            legacy.close()


def test_a_new_wal_after_a_checkpoint_is_owner_only(tmp_path: Path) -> None:
    """SQLite deletes the WAL when the last connection closes and makes a new one on the
    next write: the new one takes the database file's mode."""
    db = tmp_path / "state.db"
    with umask(0o022):
        open_store(f"sqlite:///{db}").close()
        assert not Path(f"{db}-wal").exists()
        store = open_store(f"sqlite:///{db}")
        try:
            with store.unit_of_work() as uow:
                uow.cursors.set("hubspot", "x")
                uow.commit()
            assert modes(db) == ALL_0600
        finally:
            store.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_a_file_owned_by_someone_else_is_left_alone(tmp_path: Path) -> None:
    """Changing another user's file could lock that user out: warn, do not chmod."""
    db = tmp_path / "state.db"
    with umask(0o022):
        sqlite3.connect(db).close()
        os.chown(db, 65534, 65534)
        store = open_store(f"sqlite:///{db}")
        store.close()
    assert oct(stat.S_IMODE(db.stat().st_mode)) == "0o644"
