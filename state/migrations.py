"""Schema versioning: create on an empty database, migrate an older one step by step,
refuse a newer one.

To change the schema: bump `SCHEMA_VERSION` to N, change the tables, and add
`MIGRATIONS[N]`, a function that takes a version N-1 database to version N on the given
connection (it runs inside the migration transaction, together with the version update).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, inspect, select, update
from sqlmodel import SQLModel

from state.errors import StoreError
from state.tables import STATE_TABLES, SchemaMetaRow
from state.types import utcnow

SCHEMA_VERSION = 1

# target version -> step from (target - 1). Version 1 is the initial creation.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

# Serialises concurrent first starts of several workers on PostgreSQL (SQLite already
# serialises through BEGIN IMMEDIATE).
_PG_MIGRATION_LOCK = 0x1EAD_0001

_META = SchemaMetaRow.__table__  # type: ignore[attr-defined]


def read_version(conn: Connection) -> int | None:
    """The recorded schema version, or None when the database has no store yet."""
    if not inspect(conn).has_table(_META.name):
        return None
    version = conn.execute(select(_META.c.version).where(_META.c.id == 1)).scalar_one_or_none()
    return int(version) if version is not None else None


def migrate(engine: Engine, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to `target` and return the version it was at (0 = empty)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        current = read_version(conn)
        if current is None:
            ours = {t.name for t in STATE_TABLES}
            present = ours & set(inspect(conn).get_table_names())
            if present:
                raise StoreError(
                    "the state database has leadrouter tables but no schema version; "
                    "it was not created by leadrouter or is damaged"
                )
            SQLModel.metadata.create_all(conn, tables=list(STATE_TABLES))
            conn.execute(_META.insert().values(id=1, version=target, updated_at=utcnow()))
            return 0
        if current > target:
            raise StoreError(
                f"the state database has schema version {current}, newer than this "
                f"leadrouter supports ({target}); upgrade leadrouter"
            )
        for version in range(current + 1, target + 1):
            step = MIGRATIONS.get(version)
            if step is None:
                raise StoreError(f"no migration to schema version {version}")
            step(conn)
        if current != target:
            conn.execute(
                update(_META).where(_META.c.id == 1).values(version=target, updated_at=utcnow())
            )
        return current


def check_version(conn: Connection) -> None:
    """Raise StoreError unless the database is at the version this code knows."""
    version = read_version(conn)
    if version != SCHEMA_VERSION:
        found = "no schema" if version is None else f"schema version {version}"
        raise StoreError(f"the state database has {found}, this leadrouter needs {SCHEMA_VERSION}")
