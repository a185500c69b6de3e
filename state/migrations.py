"""Schema versioning with Alembic: create an empty database, upgrade an older one, adopt a
database made before Alembic, refuse a newer one.

The revisions are in `state/alembic/versions/`, one per schema version, with the revision
id being the version as four digits (`0001` is the baseline, today's version 1). To change
the schema: change the tables, add the next revision by hand (`0002_<what>.py`, revising
`0001`; `op.*` calls, no autogenerate, no import of the live models) and bump
`SCHEMA_VERSION`. Alembic runs in code on a connection passed in (no alembic.ini).

`schema_meta` is kept on purpose: releases before Alembic read `schema_meta.version` and
refuse a database with a higher one, so keeping it equal to the revision's number means an
older leadrouter started on an upgraded database says "upgrade leadrouter" instead of
misreading the tables. `alembic_version` is the truth; `schema_meta` mirrors it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select, update

from state.errors import StoreError
from state.tables import STATE_TABLES, SchemaMetaRow
from state.types import utcnow

# Alembic is imported where it is used: loading it costs ~90 ms, which every `import state`
# (check, simulate, explain) would pay although only opening a store needs it.
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SCHEMA_VERSION = 6
# The Alembic revision this code's tables are; a test checks it is the scripts' head.
HEAD_REVISION = f"{SCHEMA_VERSION:04d}"
# What a database made by the pre-Alembic migrator (schema_meta.version 1) is stamped at.
BASELINE_VERSION = 1
BASELINE_REVISION = "0001"
# The tables of the baseline: what a pre-Alembic database must have to be adopted.
BASELINE_TABLES = frozenset({"lead", "audit", "pointer", "cursor", "outbox", "inbox",
                             "schema_meta"})

SCRIPT_LOCATION = Path(__file__).resolve().with_name("alembic")

# Serialises concurrent first starts of several workers on PostgreSQL (SQLite already
# serialises through BEGIN IMMEDIATE, which the store's engine emits for every write).
_PG_MIGRATION_LOCK = 0x1EAD_0001

_META = SchemaMetaRow.__table__  # type: ignore[attr-defined]


def alembic_config(*extra_version_locations: Path) -> Config:
    """The Alembic configuration of the state store, built in code (the wheel ships the
    scripts inside the `state` package). Extra version folders add revisions after ours
    (tests use them to exercise upgrades past the head)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _ini(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    locations = [SCRIPT_LOCATION / "versions", *extra_version_locations]
    config.set_main_option("version_locations", os.pathsep.join(_ini(p) for p in locations))
    return config


def _ini(path: Path) -> str:
    return str(path).replace("%", "%%")  # Config values go through configparser interpolation


def revision_number(revision: str) -> int:
    """The schema version a revision id stands for (`0002` -> 2)."""
    if not revision.isdigit():
        raise StoreError(f"state schema revision {revision!r} is not a schema version number")
    return int(revision)


def read_version(conn: Connection) -> int | None:
    """The version recorded in `schema_meta`, or None when the database has no store yet."""
    if not inspect(conn).has_table(_META.name):
        return None
    version = conn.execute(select(_META.c.version).where(_META.c.id == 1)).scalar_one_or_none()
    return int(version) if version is not None else None


def read_revision(conn: Connection) -> str | None:
    """The Alembic revision of the database, or None when it was never run by Alembic."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection=conn).get_current_revision()


def migrate(engine: Engine, *, config: Config | None = None) -> int:
    """Bring the database to the scripts' head and return the version it was at (0 = empty).

    One transaction holds the lock (advisory on PostgreSQL, the write lock on SQLite),
    the detection, the stamp, every revision and the `schema_meta` update: concurrent first
    starts migrate once, and a failing revision leaves the database as it was.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    config = config or alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package always ships the baseline
        raise StoreError("no state schema revisions found; the installation is incomplete")
    target = revision_number(head)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        previous = _adopt(conn, script, target)
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        finally:
            del config.attributes["connection"]
        if previous != target:
            _record_version(conn, target)
        return previous


def _adopt(conn: Connection, script: ScriptDirectory, target: int) -> int:
    """Classify the database before upgrading: the version it is at (0 = empty). A database
    made before Alembic is stamped at the baseline; anything newer or unknown is refused."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    version = read_version(conn)
    revision = read_revision(conn)
    if revision is not None:
        try:
            script.get_revision(revision)
        except CommandError:  # also alembic.script.revision.ResolutionError
            raise StoreError(
                f"the state database is at schema revision {revision}, newer than this "
                f"leadrouter supports ({target}); upgrade leadrouter"
            ) from None
        if version is not None and version > target:
            raise _newer(version, target)
        return revision_number(revision)
    if version is None:
        present = {t.name for t in STATE_TABLES} & set(inspect(conn).get_table_names())
        if present:
            raise StoreError(
                "the state database has leadrouter tables but no schema version; "
                "it was not created by leadrouter or is damaged"
            )
        return 0
    # Made by the pre-Alembic migrator: its version 1 is exactly our baseline revision.
    if version > BASELINE_VERSION:
        raise _newer(version, target)
    if version < BASELINE_VERSION:
        raise StoreError(f"the state database has unknown schema version {version}")
    missing = BASELINE_TABLES - set(inspect(conn).get_table_names())
    if missing:
        raise StoreError(
            f"the state database has schema version {version} but lacks the tables "
            f"{', '.join(sorted(missing))}; it is damaged"
        )
    MigrationContext.configure(connection=conn).stamp(script, BASELINE_REVISION)
    return BASELINE_VERSION


def _newer(version: int, target: int) -> StoreError:
    return StoreError(
        f"the state database has schema version {version}, newer than this "
        f"leadrouter supports ({target}); upgrade leadrouter"
    )


def _record_version(conn: Connection, version: int) -> None:
    """Mirror the revision into `schema_meta` (see the module docstring for why)."""
    changed = conn.execute(
        update(_META).where(_META.c.id == 1).values(version=version, updated_at=utcnow())
    ).rowcount
    if not changed:
        conn.execute(_META.insert().values(id=1, version=version, updated_at=utcnow()))


def check_version(conn: Connection) -> None:
    """Raise StoreError unless the database is at the schema this code knows (for opens
    that must not migrate, and the health check): both the `schema_meta` version and the
    Alembic revision must be this code's."""
    version = read_version(conn)
    if version != SCHEMA_VERSION:
        found = "no schema" if version is None else f"schema version {version}"
        raise StoreError(f"the state database has {found}, this leadrouter needs {SCHEMA_VERSION}")
    revision = read_revision(conn)
    if revision != HEAD_REVISION:
        found = "no schema revision" if revision is None else f"schema revision {revision}"
        raise StoreError(
            f"the state database has {found}, this leadrouter needs {HEAD_REVISION} "
            "(open it once with migrations to upgrade it)"
        )
