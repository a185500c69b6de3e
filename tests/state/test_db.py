"""Opening the store: SQLite pragmas, URLs, schema versions, integrity."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from state import SCHEMA_VERSION, Store, StoreError, StoreUnavailable, open_store
from state import migrations as mig
from state.tables import SchemaMetaRow
from tests.conftest import PgServer
from tests.state.revisions import probe_revisions, write_revision

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
META = SchemaMetaRow.__table__  # type: ignore[attr-defined]


def test_sqlite_pragmas(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_write_transactions_begin_immediate(sqlite_url: str) -> None:
    """An open (even idle) unit of work holds the write lock: a plain sqlite3 writer
    cannot get it, so two store writers never deadlock on a lock upgrade."""
    store = open_store(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    try:
        with store.unit_of_work() as uow:
            uow.cursors.get("x")  # a read starts the (immediate) transaction
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        with store.unit_of_work(read_only=True) as uow:
            uow.cursors.get("x")  # a read-only unit does not take the write lock
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()
    finally:
        store.close()


def test_memory_url_works() -> None:
    store = open_store("sqlite://")
    try:
        with store.unit_of_work() as uow:
            uow.cursors.set("c", "v")
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.cursors.get("c") == "v"
        store.check()
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    ["", "   ", "leadrouter.db", "mysql://u@h/db", "http://example.com", "sqlite+pysqlite:/x"],
)
def test_bad_urls_raise_store_error(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "state" in str(info.value)


def test_missing_sqlite_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory does not exist"):
        open_store(f"sqlite:///{tmp_path}/nope/state.db")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(StoreError, match="cannot open state database"):
        open_store(f"sqlite:///{path}")


def test_unreachable_postgres_hides_password() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://leadrouter:s3cret-pw@127.0.0.1:{port}/leadrouter"
    with pytest.raises(StoreError, match="cannot open state database") as info:
        open_store(url, connect_timeout_s=2)
    assert "s3cret-pw" not in str(info.value)
    assert "postgresql+psycopg://leadrouter:***@127.0.0.1" in str(info.value)


def test_schema_version_recorded(store: Store) -> None:
    with store.engine.connect() as conn:
        assert mig.read_version(conn) == SCHEMA_VERSION
        assert conn.execute(text("SELECT count(*) FROM schema_meta")).scalar() == 1
        conn.rollback()
    store.check()


def test_reopen_keeps_data_and_version(store_url: str) -> None:
    first = open_store(store_url)
    with first.unit_of_work() as uow:
        uow.cursors.set("c", "kept")
        uow.commit()
    first.close()
    again = open_store(store_url)
    try:
        with again.unit_of_work() as uow:
            assert uow.cursors.get("c") == "kept"
    finally:
        again.close()


def _set_version(store: Store, version: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(META).values(version=version))


def test_newer_schema_is_refused(store_url: str) -> None:
    store = open_store(store_url)
    _set_version(store, SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(StoreError, match="newer than this leadrouter supports"):
        open_store(store_url)
    with pytest.raises(StoreError, match=f"this leadrouter needs {SCHEMA_VERSION}"):
        open_store(store_url, migrate_schema=False)


def test_older_schema_is_migrated_in_order(store_url: str, tmp_path: Path) -> None:
    """Revisions past the packaged head (written into a temporary version folder) run in
    order, once; the version is recorded in alembic_version and mirrored in schema_meta."""
    store = open_store(store_url)
    store.close()
    config = probe_revisions(tmp_path / "versions", SCHEMA_VERSION + 1, SCHEMA_VERSION + 2)
    engine = open_store(store_url, migrate_schema=False).engine
    try:
        assert mig.migrate(engine, config=config) == SCHEMA_VERSION
        with engine.connect() as conn:
            ran = conn.execute(text("SELECT version FROM probe_runs ORDER BY id")).scalars()
            assert list(ran) == [SCHEMA_VERSION + 1, SCHEMA_VERSION + 2]
            assert mig.read_version(conn) == SCHEMA_VERSION + 2
            assert mig.read_revision(conn) == f"{SCHEMA_VERSION + 2:04d}"
            conn.execute(text(f"SELECT count(*) FROM probe_v{SCHEMA_VERSION + 2}"))
            conn.rollback()
        assert mig.migrate(engine, config=config) == SCHEMA_VERSION + 2
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM probe_runs")).scalar() == 2
            conn.rollback()
    finally:
        engine.dispose()


def test_failed_migration_changes_nothing(store_url: str, tmp_path: Path) -> None:
    open_store(store_url).close()
    write_revision(
        tmp_path / "versions",
        SCHEMA_VERSION + 1,
        """
        op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
        raise RuntimeError("migration bug")
        """,
    )
    store = open_store(store_url, migrate_schema=False)
    try:
        with pytest.raises(RuntimeError):
            mig.migrate(store.engine, config=mig.alembic_config(tmp_path / "versions"))
        with store.engine.connect() as conn:
            assert mig.read_version(conn) == SCHEMA_VERSION
            assert mig.read_revision(conn) == mig.HEAD_REVISION
            from sqlalchemy import inspect

            assert not inspect(conn).has_table("half_done")
            conn.rollback()
    finally:
        store.close()


def test_tables_without_version_are_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE lead (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="no schema version"):
        open_store(sqlite_url)


def test_check_passes_on_healthy_store(store: Store) -> None:
    with store.unit_of_work() as uow:
        for i in range(50):
            uow.leads.add_seen("hubspot", str(i), T0, {"state": "CA"}, now=T0)
        uow.commit()
    store.check()
    store.check(full=True)


def test_check_detects_corruption(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}")
    with store.unit_of_work() as uow:
        for i in range(2000):
            uow.leads.add_seen("hubspot", f"lead-{i:05d}", T0, {"state": "CA"}, now=T0)
            uow.audit.add("hubspot", f"lead-{i:05d}", "arrived", T0)
        uow.commit()
    store.close()  # checkpoints the WAL into the main file
    page = 4096
    size = path.stat().st_size
    with path.open("r+b") as f:
        # data pages only: past every table's root page (a damaged root page of a table
        # read at open would fail the open itself, before the check)
        for offset in range(64 * page, size - page, 7 * page):
            f.seek(offset + 100)
            f.write(b"\xff" * 200)
    damaged = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match="integrity check failed") as info:
            damaged.check(full=True)
        assert len(str(info.value)) < 500
    finally:
        damaged.close()


def test_lost_postgres_connection_is_store_unavailable_and_recovers(pg_server: PgServer) -> None:
    store = open_store(pg_server.new_database())
    try:
        admin = create_engine(pg_server.url())
        with (
            pytest.raises(StoreUnavailable, match="state database unavailable"),
            store.unit_of_work() as uow,
        ):
            pid = uow.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                conn.commit()
            admin.dispose()
            uow.cursors.set("c", "v")
            uow.commit()
        with store.unit_of_work() as uow:  # pool_pre_ping replaces the dead connection
            uow.cursors.set("c", "v")
            uow.commit()
        store.check()
    finally:
        store.close()
