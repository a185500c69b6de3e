"""Opening the store: engine creation for SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or
PostgreSQL (psycopg 3), schema migration (Alembic, see state/migrations.py), health check.
Nothing happens at import time."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from state.claim_locks import ClaimLocks
from state.errors import StoreError, driver_reason
from state.migrations import check_version, migrate
from state.tables import DEFAULT_PORTAL
from state.uow import READ_ONLY_OPTION, UnitOfWork

DEFAULT_BUSY_TIMEOUT_MS = 5000
# Per-portal work only one worker may do at a time (PostgreSQL advisory locks, with the
# portal as the second key; routing's own lock is `state.repos.pointers.ROUTING_LOCK`)
POLL_LOCK = 0x1EAD_0003
SLA_LOCK = 0x1EAD_0004
AVAILABILITY_LOCK = 0x1EAD_0005
INTAKE_LOCK = 0x1EAD_0006
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_PG_ALIASES = {"postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg"}
# The state file holds lead ids and routing facts: owner-only, whatever the umask. SQLite
# creates its -wal and -shm files with the database file's mode, so a 0600 database file
# gives 0600 side files; existing side files are checked too.
OWNER_ONLY = 0o600
_SIDE_FILES = ("-wal", "-shm", "-journal")

_log = structlog.get_logger("leadrouter.state")


class Store:
    """A handle on the state database. Use `unit_of_work()` for every access."""

    def __init__(self, engine: Engine, *, display_url: str,
                 portal: str = DEFAULT_PORTAL, owns_engine: bool = True) -> None:
        self.engine = engine
        self.portal = portal  # the CRM connection whose rows this handle reads and writes
        self.url = display_url  # password hidden
        self.dialect: str = engine.dialect.name  # "sqlite" | "postgresql"
        self._owns_engine = owns_engine  # False: a `for_portal` view; its owner closes it
        # PostgreSQL: outbox claims held by this process's session (state.claim_locks)
        self.claims: ClaimLocks | None = ClaimLocks(engine) \
            if self.dialect == "postgresql" else None

    def for_portal(self, portal: str) -> Store:
        """A handle on another portal's rows over this one's engine (one connection pool
        per process, however many portals); closing it leaves the engine to this one."""
        view = Store(self.engine, display_url=self.url, portal=portal, owns_engine=False)
        view.claims = self.claims  # one session holds this process's claims
        return view

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """`with store.unit_of_work() as uow: ...; uow.commit()`.

        Rolls back whatever is not committed when the block ends (also on exception).
        `read_only=True` opens a plain deferred transaction on SQLite (readers do not take
        the write lock) and refuses `commit()`.
        """
        return UnitOfWork(self.engine, read_only=read_only, portal=self.portal,
                          claims=self.claims)

    @contextmanager
    def exclusive(self, lock: int) -> Iterator[bool]:
        """`with store.exclusive(POLL_LOCK) as mine:` -- on PostgreSQL, this portal's
        session advisory lock `lock` for the block, if no other worker holds it (`mine` is
        False then: skip the work, that worker is doing it). The lock lives with the
        connection: a killed worker's is released by the server at once. SQLite: always
        True (one process per file, `state.writer_lock`)."""
        if self.dialect != "postgresql":
            yield True
            return
        key = (lock, func.hashtext(self.portal))
        with self.engine.connect() as conn:
            mine = bool(conn.execute(select(func.pg_try_advisory_lock(*key))).scalar())
            conn.commit()  # the lock is the session's: no transaction stays open
            try:
                yield mine
            finally:
                if mine:
                    try:
                        conn.execute(select(func.pg_advisory_unlock(*key)))
                        conn.commit()
                    except SQLAlchemyError:
                        conn.invalidate()  # closing the session releases the lock

    def check(self, *, full: bool = False) -> None:
        """Raise StoreError unless the database answers and has the expected schema.

        SQLite: `PRAGMA quick_check` (`integrity_check` with full=True). PostgreSQL: `SELECT 1`.
        """
        try:
            with self.engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
                if self.dialect == "sqlite":
                    pragma = "integrity_check" if full else "quick_check"
                    rows = [str(r[0]) for r in conn.exec_driver_sql(f"PRAGMA {pragma}")]
                    if rows != ["ok"]:
                        lines = [ln for row in rows for ln in row.splitlines() if ln.strip()]
                        more = f" (+{len(lines) - 3} more)" if len(lines) > 3 else ""
                        raise StoreError(
                            "state database integrity check failed: "
                            + "; ".join(lines[:3])[:400]
                            + more
                        )
                else:
                    conn.execute(text("SELECT 1"))
                check_version(conn)
                conn.rollback()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"state database {self.url} is not usable: {driver_reason(exc)}"
            ) from None

    def close(self) -> None:
        if self._owns_engine:
            if self.claims is not None:
                self.claims.close()
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def open_store(
    url: str,
    *,
    migrate_schema: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool_size: int = 5,
    max_overflow: int = 5,
    connect_timeout_s: int = 10,
    portal: str = DEFAULT_PORTAL,
) -> Store:
    """Open (and by default create or migrate) the store at `url`.

    `sqlite:///path.db` (relative) or `sqlite:////abs/path.db`; `sqlite://` is in memory.
    `postgresql+psycopg://user:pw@host/db` (`postgresql://` and `postgres://` mean the same).
    Raises StoreError for a bad URL, an unreachable database or an unknown schema version.
    """
    parsed = _parse(url)
    display = parsed.render_as_string(hide_password=True)
    if parsed.drivername in _SQLITE_DRIVERS:
        engine = _sqlite_engine(parsed, busy_timeout_ms)
    else:
        engine = _postgres_engine(parsed, pool_size, max_overflow, connect_timeout_s)
    store = Store(engine, display_url=display, portal=portal)
    try:
        with engine.connect() as conn:
            conn.rollback()
        if migrate_schema:
            migrate(engine)
        else:
            with engine.connect() as conn:
                check_version(conn)
                conn.rollback()
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open state database {display}: {driver_reason(exc)}") from None
    return store


def _parse(url: str) -> URL:
    if not isinstance(url, str) or not url.strip():
        raise StoreError("state_url is empty; use sqlite:///PATH or postgresql+psycopg://...")
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise StoreError(
            "state_url is not a database URL; use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    driver = parsed.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+pysqlite")
    if driver in _PG_ALIASES:
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"state_url scheme {parsed.drivername!r} is not supported; "
        "use sqlite:///PATH or postgresql+psycopg://..."
    )


# WAL pages between automatic checkpoints (SQLite's default: 1,000, about 4 MB). A
# checkpoint syncs the log, copies its pages into the database and syncs that, inside the
# commit that crosses the mark: on a 10,000-lead backlog (bench/backlog.py, about 200 log
# pages per transaction) the commits took 4.6 to 4.8 s in all, 2.7 to 2.9 s at 10,000
# pages (about 40 MB of log) and 1.3 to 1.4 s with no checkpoint; and a page changed in
# many transactions is copied once per checkpoint instead of once every few commits.
WAL_CHECKPOINT_PAGES = 10_000


def _set_wal(cur: Any, busy_timeout_ms: int) -> None:
    """Switch to WAL. SQLite can refuse the switch with SQLITE_BUSY at once, without its busy
    handler, while other connections open the same new file: retry within the timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_engine(url: URL, busy_timeout_ms: int) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    }
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, else each sees its own DB
    else:
        parent = Path(database).expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreError(f"state database directory does not exist: {parent}")
        if not database.startswith("file:"):  # URI filenames: SQLite parses them itself
            secure_sqlite_files(Path(database).resolve())  # the name SQLite opens, no ~
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite (it would BEGIN DEFERRED lazily and
        # COMMIT before DDL); we emit BEGIN [IMMEDIATE] ourselves in `_on_begin`.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if not memory:
                _set_wal(cur, busy_timeout_ms)
            cur.execute("PRAGMA synchronous = NORMAL")
            if not memory:
                cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Write transactions take the write lock up front: two writers never both hold a
        # read snapshot and then deadlock on the upgrade (SQLITE_BUSY without waiting).
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def secure_sqlite_files(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would use 0644 minus the umask),
    and take group/other access away from an existing one and its side files. An empty
    file is a valid new SQLite database, so creating it first changes nothing else."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create state database {path}: {exc.strerror}") from None
    else:
        try:
            os.fchmod(fd, OWNER_ONLY)  # the umask may have cleared owner bits: set exactly
        finally:
            os.close(fd)
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in _SIDE_FILES)):
        _tighten(candidate)


def _tighten(path: Path) -> None:
    """Drop group and other permissions from a file we own (and say so); only warn about
    one somebody else owns: changing another user's file could lock that user out."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    if info.st_uid == os.geteuid():
        try:
            os.chmod(path, mode & 0o700)
        except OSError:
            pass
        else:
            _log.warning("state.file_was_readable_by_others_now_0600", path=str(path))
            return
    _log.warning("state.file_readable_by_others_not_ours", path=str(path))


def _postgres_engine(url: URL, pool_size: int, max_overflow: int, connect_timeout_s: int) -> Engine:
    try:
        return create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            pool_timeout=30,
            connect_args={"connect_timeout": connect_timeout_s, "application_name": "leadrouter"},
        )
    except (NoSuchModuleError, ImportError):
        raise StoreError(
            "PostgreSQL support needs psycopg 3: pip install 'leadrouter[postgres]'"
        ) from None
