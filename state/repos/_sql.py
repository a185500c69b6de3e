"""Dialect-portable INSERT ... ON CONFLICT helpers (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session, model: type[SQLModel]) -> Any:
    if dialect_name(session) == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def _insert_rows(session: Session, model: type[SQLModel]) -> Any:
    """An INSERT of the model's table, not of the ORM entity: rows sent in bulk go straight
    to the driver (the ORM's bulk path would walk each row through its unit of work)."""
    table = model.__table__  # type: ignore[attr-defined]
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    conflict: Sequence[str],
) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; True when a row was inserted.

    Safe under concurrency on both databases: a duplicate never raises.
    """
    stmt = (
        _insert(session, model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(literal_column("1"))
    )
    # RETURNING rather than rowcount: psycopg reports -1 for this statement through
    # SQLAlchemy, and RETURNING yields a row exactly when one was inserted.
    return session.execute(stmt).first() is not None


def insert_ignore_many(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[str],
    returning: str | tuple[str, ...],
) -> list[Any]:
    """`insert_ignore` for several rows (one statement, compiled once and sent in batches);
    the `returning` column of each row inserted (a tuple of columns: a tuple each), in no
    particular order (rows that existed are left as they are and not returned)."""
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    columns = (returning,) if isinstance(returning, str) else returning
    stmt = (
        _insert_rows(session, model)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*(table.c[name] for name in columns))
    )
    result = session.execute(stmt, [dict(r) for r in rows])
    if isinstance(returning, str):
        return list(result.scalars())
    return [tuple(row) for row in result]


def insert_ids(session: Session, model: type[SQLModel], rows: Sequence[Mapping[str, Any]],
               key: str) -> list[int]:
    """Insert `rows` (one statement, compiled once, sent in batches); the id of each, in the
    order given.

    RETURNING promises no order (asking SQLAlchemy to sort it makes it send one row per
    statement), so ids are matched to rows by their `key` column and, among rows with the
    same key, in ascending order: a statement's rows are inserted, and take their ids, in
    the order they are listed.
    """
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    stmt = _insert_rows(session, model).returning(table.c.id, table.c[key])
    by_key: dict[Any, list[int]] = {}
    for row_id, value in session.execute(stmt, [dict(r) for r in rows]):
        by_key.setdefault(value, []).append(int(row_id))
    for ids in by_key.values():
        ids.sort(reverse=True)
    return [by_key[r[key]].pop() for r in rows]


def upsert(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Mapping[str, Any],
) -> None:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET update."""
    stmt = _insert(session, model).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=dict(update))
    session.execute(stmt)
