"""Fixtures: real SQLite files and a real PostgreSQL server (`pg_server`, tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from state import Store, open_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store_url(state_url: str) -> str:
    """Each store test runs on SQLite and on PostgreSQL (`state_url`, tests/conftest.py)."""
    return state_url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(sqlite_url)
    try:
        yield s
    finally:
        s.close()


def open_concurrently(url: str, openers: int = 4) -> list[BaseException]:
    """`open_store(url)` from `openers` threads released together (concurrent first starts);
    the errors they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(openers)

    def opener() -> None:
        barrier.wait()
        try:
            open_store(url).close()
        except BaseException as exc:  # collected for the caller to assert on
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors
