"""Alembic migrations: a previous release's database upgrades in place and keeps working,
a fresh one gets the head, a newer one is refused, and the baseline revision is exactly the
schema the pre-Alembic code created.

"Previous release" databases: on SQLite, `data/v1_state.sqlite3`, made by the pre-Alembic
code (see data/README.md); on PostgreSQL, that code's create path (`create_all` of the
tables plus the `schema_meta` version 1 row) with the fixture's rows copied in.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlmodel import SQLModel

from sandbox.hubspot import HubSpotSandbox
from state import SCHEMA_VERSION, StoreError, open_store
from state import migrations as mig
from state.tables import STATE_TABLES
from sync.cycle import run_cycle
from tests.conftest import PgServer
from tests.pipeline.conftest import hubspot_context, lead_rows, seed
from tests.state.conftest import open_concurrently
from tests.state.revisions import probe_revisions
from tests.state.v1_schema import SCHEMA_META, V1_TABLES

FIXTURE = Path(__file__).parent / "data" / "v1_state.sqlite3"
FIXTURE_LEADS = {"90000001": "contacted", "90000002": "contacted", "90000003": "skipped"}
FIXTURE_CURSOR = "1793541600000"  # hubspot:poll in the fixture (2026-11-01 14:00 UTC)
META = SCHEMA_META
TABLE_NAMES = sorted(t.name for t in STATE_TABLES)
V1_TABLE_NAMES = sorted(t.name for t in V1_TABLES)



def _engine(url: str) -> Engine:
    """A plain engine (not the store's): reads and writes what the test says, nothing else."""
    return create_engine(url)


def snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every release-1 table, in release 1's key order, with its release-1
    columns (the upgrade adds `portal`: checked to be "default" on every existing row)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            out: dict[str, list[dict[str, Any]]] = {}
            for table in V1_TABLES:
                columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
                if "portal" in columns:
                    portals = set(
                        conn.execute(text(f'SELECT DISTINCT portal FROM "{table.name}"')).scalars()
                    )
                    assert portals <= {"default"}, f"{table.name}: rows outside the portal"
                out[table.name] = [
                    dict(row._mapping)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
            return out
    finally:
        engine.dispose()


def without_meta(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows but `schema_meta`'s, which the upgrade to version 2 rewrites (checked apart)."""
    assert [r["version"] for r in rows["schema_meta"]] in ([1], [SCHEMA_VERSION])
    return {name: table for name, table in rows.items() if name != "schema_meta"}


def alembic_rows(url: str) -> list[str]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return [str(r) for r in rows]
    finally:
        engine.dispose()


def alembic_rows_missing(url: str) -> bool:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return not inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def previous_release_sqlite(folder: Path) -> str:
    path = folder / "previous.db"
    shutil.copyfile(FIXTURE, path)  # never the committed file itself
    path.chmod(0o600)
    return f"sqlite:///{path}"


def previous_release_postgres(pg_server: PgServer) -> str:
    """The pre-Alembic create path on a new PostgreSQL database, with the fixture's rows."""
    url = pg_server.new_database()
    source, target = _engine(f"sqlite:///{FIXTURE}"), _engine(url)
    try:
        with source.connect() as src, target.begin() as dst:
            # what state/migrations.py did before Alembic on an empty database
            SQLModel.metadata.create_all(dst, tables=list(V1_TABLES))
            for table in V1_TABLES:
                rows = [
                    dict(r._mapping)
                    for r in src.execute(select(table).order_by(*table.primary_key.columns))
                ]
                if not rows:
                    continue
                if table.name != META.name and "id" in table.c:
                    # serial ids: let PostgreSQL number them (in the same order) so its
                    # sequences are where a real database's would be
                    rows = [{k: v for k, v in row.items() if k != "id"} for row in rows]
                dst.execute(table.insert(), rows)
    finally:
        source.dispose()
        target.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def previous_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return previous_release_sqlite(tmp_path)
    return previous_release_postgres(request.getfixturevalue("pg_server"))


def test_fixture_is_a_pre_alembic_version_1_database() -> None:
    """Guards the fixture itself: made by the old code, nothing Alembic in it."""
    engine = _engine(f"sqlite:///{FIXTURE}")
    try:
        with engine.connect() as conn:
            assert mig.read_version(conn) == 1
            assert not inspect(conn).has_table("alembic_version")
            assert set(V1_TABLE_NAMES) <= set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    rows = snapshot(f"sqlite:///{FIXTURE}")
    assert {r["crm_id"]: r["status"] for r in rows["lead"]} == FIXTURE_LEADS
    assert all(rows[name] for name in V1_TABLE_NAMES), "every table has rows"


def test_previous_release_upgrades_in_place_and_runs_a_cycle(
    previous_url: str, box: HubSpotSandbox
) -> None:
    before = snapshot(previous_url)
    assert alembic_rows_missing(previous_url)

    store = open_store(previous_url)
    store.check()
    store.close()
    assert alembic_rows(previous_url) == [mig.HEAD_REVISION]
    assert without_meta(snapshot(previous_url)) == without_meta(before), (
        "stamping and upgrading changed a row")

    ids = seed(box, 6)
    ctx = hubspot_context(box, previous_url)
    try:
        result = run_cycle(ctx)
        assert result.failed_steps == []
        assert result.routing.routed == len(ids)
        assert result.apply.owners_written == len(ids)
        rows = lead_rows(ctx)
        assert {cid: rows[cid].status for cid in FIXTURE_LEADS} == FIXTURE_LEADS
        assert {rows[cid].status for cid in ids} == {"task_created"}
        with ctx.store.unit_of_work(read_only=True) as uow:
            assert int(uow.cursors.get("hubspot:poll") or 0) > int(FIXTURE_CURSOR)
            kinds = [a.kind for a in uow.audit.for_lead("hubspot", "90000001")]
            assert kinds == ["arrived", "decision", "contact_attempt"]
            # the upgrade turned the old audit trail into lead events, in order
            events = uow.events.for_lead("hubspot", "90000001")
            assert [e.event for e in events] == ["arrived", "routed", "contacted"]
            assert all(e.audit_id is not None for e in events)
    finally:
        ctx.close()
    after = snapshot(previous_url)
    # The cycle then did its ordinary work on the old rows, nothing else: the audit trail
    # and the outbox are appended to; old leads keep their state (the one-time scrub may
    # rewrite their attributes to the vocabulary); the processed inbox rows are past
    # retention and purged; the pointer and cursor move on.
    for name in ("audit", "outbox"):
        assert after[name][: len(before[name])] == before[name], name
    leads_after = {row["crm_id"]: row for row in after["lead"]}
    for row in before["lead"]:
        kept = {k: v for k, v in row.items() if k not in ("attributes", "updated_at")}
        assert {k: leads_after[row["crm_id"]][k] for k in kept} == kept
    assert after["inbox"] == []
    assert {r["key"] for r in before["pointer"]} <= {r["key"] for r in after["pointer"]}
    assert [r["version"] for r in after["schema_meta"]] == [SCHEMA_VERSION]
    assert alembic_rows(previous_url) == [mig.HEAD_REVISION]


def test_previous_release_is_refused_by_a_non_migrating_open_until_migrated(
    previous_url: str,
) -> None:
    """check_version's role (e.g. the webhook handle opens with migrate_schema=False): a
    database nobody has upgraded yet is refused, clearly; after a migrating open it is fine."""
    with pytest.raises(
        StoreError, match=f"schema version 1, this leadrouter needs {SCHEMA_VERSION}"
    ):
        open_store(previous_url, migrate_schema=False)
    assert alembic_rows_missing(previous_url), "a non-migrating open must not stamp"
    open_store(previous_url).close()
    open_store(previous_url, migrate_schema=False).close()


def test_concurrent_first_opens_of_a_previous_release_stamp_once(previous_url: str) -> None:
    before = snapshot(previous_url)
    assert open_concurrently(previous_url) == []
    assert alembic_rows(previous_url) == [mig.HEAD_REVISION]
    assert without_meta(snapshot(previous_url)) == without_meta(before)


def test_fresh_database_gets_the_head(state_url: str) -> None:
    store = open_store(state_url)
    try:
        with store.engine.connect() as conn:
            assert mig.read_revision(conn) == mig.HEAD_REVISION
            assert mig.read_version(conn) == SCHEMA_VERSION
            assert set(TABLE_NAMES) <= set(inspect(conn).get_table_names())
            conn.rollback()
        with store.unit_of_work() as uow:
            uow.cursors.set("c", "v")
            uow.commit()
        store.check()
    finally:
        store.close()
    assert alembic_rows(state_url) == [mig.HEAD_REVISION]
    open_store(state_url, migrate_schema=False).close()


def test_unknown_newer_revision_is_refused(state_url: str) -> None:
    open_store(state_url).close()
    engine = _engine(state_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="revision 0099, newer than this leadrouter supports"):
        open_store(state_url)
    with pytest.raises(
        StoreError, match=f"schema revision 0099, this leadrouter needs {mig.HEAD_REVISION}"
    ):
        open_store(state_url, migrate_schema=False)
    assert alembic_rows(state_url) == ["0099"], "a refused open changes nothing"


def test_database_upgraded_by_a_newer_release_is_refused(state_url: str, tmp_path: Path) -> None:
    """A newer release (here: the packaged scripts plus a revision 0002) upgraded the
    database; this code refuses it, and schema_meta says 2 for pre-Alembic releases."""
    store = open_store(state_url)
    mig.migrate(store.engine, config=probe_revisions(tmp_path / "newer", SCHEMA_VERSION + 1))
    store.close()
    with pytest.raises(StoreError, match="newer than this leadrouter supports"):
        open_store(state_url)
    engine = _engine(state_url)
    try:
        with engine.connect() as conn:
            assert mig.read_version(conn) == SCHEMA_VERSION + 1
    finally:
        engine.dispose()


def test_newer_pre_alembic_version_is_refused(sqlite_url: str) -> None:
    """schema_meta newer than the baseline without alembic_version: not ours to stamp."""
    engine = _engine(sqlite_url)
    try:
        with engine.begin() as conn:
            SQLModel.metadata.create_all(conn, tables=list(V1_TABLES))
            conn.execute(META.insert().values(id=1, version=2, updated_at=mig.utcnow()))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="schema version 2, newer than this leadrouter"):
        open_store(sqlite_url)
    assert alembic_rows_missing(sqlite_url)


def test_version_one_with_missing_tables_is_refused(sqlite_url: str) -> None:
    engine = _engine(sqlite_url)
    try:
        with engine.begin() as conn:
            SQLModel.metadata.create_all(conn, tables=[META])
            conn.execute(META.insert().values(id=1, version=1, updated_at=mig.utcnow()))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="lacks the tables audit, cursor, inbox"):
        open_store(sqlite_url)


def test_head_revision_is_the_packaged_scripts_head() -> None:
    script = ScriptDirectory.from_config(mig.alembic_config())
    assert script.get_current_head() == mig.HEAD_REVISION
    assert [r.revision for r in script.walk_revisions()][-1] == mig.BASELINE_REVISION
    assert mig.revision_number(mig.HEAD_REVISION) == SCHEMA_VERSION


def _schema(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullability), primary keys, unique constraints and indexes."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            return {
                name: {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(name)
                    ],
                    "pk": insp.get_pk_constraint(name)["constrained_columns"],
                    "unique": sorted(
                        (u["name"] or "", tuple(u["column_names"]))
                        for u in insp.get_unique_constraints(name)
                    ),
                    "indexes": sorted(
                        (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                        for i in insp.get_indexes(name)
                    ),
                }
                for name in insp.get_table_names()
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


def _sqlite_ddl(url: str) -> set[tuple[str, str, str | None]]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT type, name, sql FROM sqlite_master WHERE name != 'alembic_version'"
                    " AND name NOT LIKE 'sqlite_autoindex_alembic%'"
                )
            )
            return {(str(r[0]), str(r[1]), r[2]) for r in rows}
    finally:
        engine.dispose()


def test_baseline_is_the_pre_alembic_schema(state_url: str, tmp_path: Path) -> None:
    """The baseline revision creates exactly what create_all created: same tables,
    columns, types, nullability, keys, unique constraints and indexes (on SQLite: the same
    DDL text, compared with the committed previous-release file too)."""
    _baseline_only(state_url)
    if state_url.startswith("sqlite"):
        old_url = previous_release_sqlite(tmp_path)
        assert _sqlite_ddl(state_url) == _sqlite_ddl(old_url)
    else:
        old_url = _old_create_path_pg(state_url)
    assert _schema(state_url) == _schema(old_url)


def _baseline_only(url: str) -> None:
    """Run the baseline revision alone on an empty database."""
    from alembic import command

    engine = _engine(url)
    config = mig.alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, mig.BASELINE_REVISION)
    finally:
        engine.dispose()


def _old_create_path_pg(fresh_url: str) -> str:
    """A sibling database on the same server made by the pre-Alembic create path."""
    base, name = fresh_url.rsplit("/", 1)
    old = f"{name}_old"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{old}"'))
    finally:
        admin.dispose()
    engine = _engine(f"{base}/{old}")
    try:
        with engine.begin() as conn:
            SQLModel.metadata.create_all(conn, tables=list(V1_TABLES))
    finally:
        engine.dispose()
    return f"{base}/{old}"


def test_importing_the_store_loads_no_alembic_and_opens_nothing() -> None:
    """Migrations run only from open_store: importing the package (every CLI command does)
    creates no engine, runs no migration and does not even load Alembic."""
    code = (
        "import sys\n"
        "from sqlalchemy import engine, event\n"
        "made = []\n"
        "event.listen(engine.Engine, 'engine_connect', lambda *a: made.append(1))\n"
        "import state, state.db, state.migrations, state.alembic, state.alembic.versions\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'), made)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"
