"""Dialect-portable INSERT ... ON CONFLICT helpers (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Session, SQLModel

PENDING_LEADS = "leadrouter_leads"  # a unit's lead repository, in its session's `info`
# rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters
_ROWS_PER_STATEMENT = 500


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session, model: type[SQLModel]) -> Any:
    if dialect_name(session) == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


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
    columns = (returning,) if isinstance(returning, str) else returning
    inserted = insert_values(session, model, rows, columns, conflict=conflict)
    if isinstance(returning, str):
        return [row[0] for row in inserted]
    return inserted


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
    by_key: dict[Any, list[int]] = {}
    for row_id, value in insert_values(session, model, rows, ("id", key)):
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


def insert_values(session: Session, model: type[SQLModel], rows: Sequence[Mapping[str, Any]],
                  returning: Sequence[str], *, conflict: Sequence[str] | None = None
                  ) -> list[tuple[Any, ...]]:
    """INSERT `rows` (each with the same columns) as multi-row VALUES statements, with ON
    CONFLICT (conflict) DO NOTHING when given; the `returning` columns of each row inserted,
    in no particular order.

    The statement text is made once per shape and the values are bound by the columns' own
    types (the same conversions SQLAlchemy applies), then sent to the driver as they are:
    SQLAlchemy's own multi-row path builds a parameter dictionary per row through its
    compiler, which cost more than the database's work on a backlog (bench/backlog.py).
    """
    if not rows:
        return []
    names = tuple(rows[0])
    table: Table = model.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    dialect = connection.dialect
    binds, defaults = _binds(table, names, dialect)
    bound = _row_binder(names, binds)
    columns = names + tuple(_defaulted(table, names))
    flat: list[Any] = []
    out: list[tuple[Any, ...]] = []
    _send_pending_leads(session)
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start:start + _ROWS_PER_STATEMENT]
        flat.clear()
        for row in chunk:
            if len(row) != len(names):
                raise ValueError(f"rows for {table.name} have different columns")
            flat.extend(bound(row))
            flat.extend(defaults)
        sql = _insert_sql(table, columns, len(chunk), tuple(conflict or ()),
                          tuple(returning), dialect)
        out.extend(tuple(r) for r in connection.exec_driver_sql(sql, tuple(flat)))
    return out


def update_values(session: Session, model: type[SQLModel], rows: Sequence[Mapping[str, Any]],
                  by: Sequence[str], *, unset: str | None = None) -> None:
    """UPDATE each row of the table found by its `by` columns, setting its other columns
    (each row with the same columns), only where `unset` is still NULL when given: one
    executemany, values bound by the columns' own types (see `insert_values`)."""
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[attr-defined]
    names = tuple(rows[0])
    setting = tuple(n for n in names if n not in by)
    order = setting + tuple(by)
    connection = session.connection()
    bound = _row_binder(order, [_bind_of(table.c[name], connection.dialect) for name in order])
    params = []
    for row in rows:
        if len(row) != len(names):
            raise ValueError(f"rows for {table.name} have different columns")
        params.append(tuple(bound(row)))
    _send_pending_leads(session)
    connection.exec_driver_sql(
        _update_sql(table, setting, tuple(by), unset, connection.dialect), params)


def driver_rows(session: Session, sql: str, params: Sequence[Any],
                columns: Sequence[Column[Any]]) -> list[list[Any]]:
    """The rows of `sql` (its result is `columns`, in order), sent to the driver as it is,
    each value converted by its column's type as SQLAlchemy converts it (see
    `insert_values`); pending lead changes are sent first."""
    _send_pending_leads(session)
    connection = session.connection()
    converted = _converter([_result_of(column, connection.dialect) for column in columns])
    return [list(converted(row)) for row in connection.exec_driver_sql(sql, tuple(params))]


def select_in(session: Session, columns: Sequence[Column[Any]], equal: Mapping[str, Any],
              within: str, values: Sequence[Any]) -> list[list[Any]]:
    """SELECT `columns` (of one table) of the rows whose `equal` columns hold their values
    and whose `within` column is one of `values`: statements of up to 500 values, their
    text made once per size, sent to the driver (`driver_rows`). SQLAlchemy renders an
    IN list anew for every statement, which cost more than the read on a backlog."""
    if not values:
        return []
    table = columns[0].table
    dialect = session.get_bind().dialect
    fixed = [_bind_of(table.c[name], dialect)(value) for name, value in equal.items()]
    bind = _bind_of(table.c[within], dialect)
    names = tuple(column.name for column in columns)
    out: list[list[Any]] = []
    for start in range(0, len(values), _ROWS_PER_STATEMENT):
        chunk = values[start:start + _ROWS_PER_STATEMENT]
        sql = _select_in_sql(table, names, tuple(equal), within, len(chunk), dialect)
        out.extend(driver_rows(session, sql, [*fixed, *map(bind, chunk)], columns))
    return out


def bind_value(session: Session, column: Column[Any], value: Any) -> Any:
    """`value` as the driver takes it for `column` (its type's bind conversion)."""
    return _bind_of(column, session.get_bind().dialect)(value)


def _result_of(column: Column[Any], dialect: Dialect) -> _Bind:
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return process or _identity


def _send_pending_leads(session: Session) -> None:
    """A statement sent to the driver directly passes the unit's hook: send the lead
    repository's pending changes first, as the hook does (state/uow.py)."""
    leads = session.info.get(PENDING_LEADS)
    if leads is not None:
        leads.flush()


def _defaulted(table: Table, names: Sequence[str]) -> list[str]:
    """Columns the rows leave out that have a default on the Python side."""
    return [c.name for c in table.c if c.name not in names and c.default is not None]


_Bind = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _converter(functions: Sequence[_Bind]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """Values converted by position, by `functions`: only the positions whose type converts
    (times, JSON) pass a function (a backlog converts over a million values, most of them
    ids and strings)."""
    converting = [(i, function) for i, function in enumerate(functions)
                  if function is not _identity]
    if not converting:
        return _identity

    def converted(values: Sequence[Any]) -> Sequence[Any]:
        out = list(values)
        for i, function in converting:
            out[i] = function(out[i])
        return out
    return converted


def _row_binder(names: Sequence[str], binds: Sequence[_Bind]
                ) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """A row's values in `names`' order, taken in one C call, bound (`_converter`)."""
    take = itemgetter(*names)
    if len(names) == 1:
        only = binds[0]
        return lambda row: (only(take(row)),)
    bound = _converter(binds)
    if bound is _identity:
        return take
    return lambda row: bound(take(row))


def _binds(table: Table, names: Sequence[str], dialect: Dialect) -> tuple[list[_Bind], list[Any]]:
    """Per column given, its type's bind conversion for `dialect`; the bound values of the
    Python-side defaults of the columns left out (`_defaulted`)."""
    binds = [_bind_of(table.c[name], dialect) for name in names]
    defaults = []
    for name in _defaulted(table, names):
        column = table.c[name]
        default = column.default
        assert default is not None
        value = default.arg(None) if default.is_callable else default.arg  # type: ignore[attr-defined]
        defaults.append(_bind_of(column, dialect)(value))
    return binds, defaults


def _bind_of(column: Column[Any], dialect: Dialect) -> _Bind:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process or _identity


@lru_cache(maxsize=256)
def _insert_sql(table: Table, names: tuple[str, ...], count: int, conflict: tuple[str, ...],
                returning: tuple[str, ...], dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"  # SQLite; psycopg
    one = "(" + ", ".join([mark] * len(names)) + ")"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
           f"VALUES {', '.join([one] * count)}")
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote(n) for n in conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(n) for n in returning)}"
    return sql


@lru_cache(maxsize=512)
def _select_in_sql(table: Any, names: tuple[str, ...], equal: tuple[str, ...], within: str,
                   count: int, dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    where = [f"{quote(n)} = {mark}" for n in equal]
    where.append(f"{quote(within)} IN ({', '.join([mark] * count)})")
    return (f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(table.name)}"
            f" WHERE {' AND '.join(where)}")


@lru_cache(maxsize=256)
def _update_sql(table: Table, setting: tuple[str, ...], by: tuple[str, ...], unset: str | None,
                dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = {mark}' for n in setting)}"
           f" WHERE {' AND '.join(f'{quote(n)} = {mark}' for n in by)}")
    if unset is not None:
        sql += f" AND {quote(unset)} IS NULL"
    return sql
