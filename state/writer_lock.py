"""One writing process per SQLite state file.

SQLite serialises writers inside one file, but two leadrouter processes on one file would
both poll, route and escalate on their own schedules (several cooperating workers need
PostgreSQL). The first process holds an exclusive `flock` on `<state file>.lock` for its
lifetime; a second one is refused at start with a message saying what to do. The kernel
drops the lock when the holder dies, even by SIGKILL, so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from state.db import Store
from state.errors import StoreError


class WriterLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock


def acquire_writer_lock(store: Store) -> WriterLock | None:
    """Hold the SQLite file's writer lock; None for PostgreSQL and in-memory stores.

    Raises StoreError when another process holds it.
    """
    if store.dialect != "sqlite":
        return None
    database = store.engine.url.database
    if not database or database == ":memory:":
        return None
    path = Path(f"{database}.lock").resolve()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StoreError(
            f"another leadrouter process (pid {holder}) is already running on the SQLite "
            f"state file {database}; stop it first, or use a PostgreSQL state_url to run "
            "several workers"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return WriterLock(path, fd)
