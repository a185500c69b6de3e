"""Evaluation of parsed SOQL (:mod:`sandbox.salesforce.soql`) over in-memory records.

Semantics follow Salesforce: text compares case-insensitively, null never satisfies an
ordering comparison, ``!=`` and NOT IN match nulls, ids compare on their first 15 characters when a
15-character literal is given, ORDER BY defaults to NULLS FIRST ascending / NULLS LAST
descending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.soql import (
    BoolOp,
    Expr,
    Not,
    OrderItem,
    Query,
    RelativeDate,
    SoqlError,
    parse_datetime,
)

__all__ = ["Getter", "SubQueryRunner", "evaluate", "like_to_regex", "matches", "sort_records"]

Getter = Callable[[dict[str, Any], str], Any]
SubQueryRunner = Callable[[Query], list[Any]]

_ID_RE = re.compile(r"[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?")


def _is_id_field(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last == "Id" or last.endswith("Id")


def _coerce(value: Any, literal: Any) -> Any:
    """Bring a stored value to the literal's type for comparison (None stays None)."""
    if value is None:
        return None
    if isinstance(literal, datetime):
        return parse_datetime(value) if isinstance(value, str) else value
    if isinstance(literal, date):
        if isinstance(value, str):
            return date.fromisoformat(value[:10])
        return value
    if isinstance(literal, bool):
        return bool(value)
    if isinstance(literal, int | float):
        return float(value)
    if isinstance(literal, str):
        return str(value).casefold()
    return value


def _lit(literal: Any) -> Any:
    if isinstance(literal, str):
        return literal.casefold()
    if isinstance(literal, int | float) and not isinstance(literal, bool):
        return float(literal)
    return literal


_IdSets = tuple[frozenset[str], frozenset[str]] | None
# per parsed IN list (kept alive with it, so its id() stays unique): built once per query
_ID_LOOKUPS: dict[int, tuple[Sequence[Any], _IdSets]] = {}


def _id_lookup(options: Sequence[Any]) -> _IdSets:
    """For `Id IN (...)` with only id literals: (18-char ids, 15-char ids) to test by set
    membership instead of comparing each record with every literal."""
    cached = _ID_LOOKUPS.get(id(options))
    if cached is not None and cached[0] is options:
        return cached[1]
    sets: _IdSets = None
    if all(isinstance(o, str) and _ID_RE.fullmatch(o) for o in options):
        sets = (frozenset(o for o in options if len(o) == 18),
                frozenset(o for o in options if len(o) == 15))
    if len(_ID_LOOKUPS) > 64:
        _ID_LOOKUPS.clear()
    _ID_LOOKUPS[id(options)] = (options, sets)
    return sets


def _id_equal(value: Any, literal: Any) -> bool:
    if not isinstance(value, str) or not isinstance(literal, str):
        return False
    return value[:15] == literal[:15] and (len(literal) == 15 or value == literal)


def _compare(value: Any, op: str, literal: Any, name: str, now: datetime) -> bool:
    if isinstance(literal, RelativeDate):
        if value is None:
            return op == "!="
        start, end = literal.bounds(now)
        v = parse_datetime(value) if isinstance(value, str) and "T" in value else None
        if v is None:  # a date field: compare days
            d = date.fromisoformat(str(value)[:10])
            v = datetime(d.year, d.month, d.day, tzinfo=UTC)
        return {
            "=": start <= v < end, "!=": not start <= v < end, "<": v < start,
            "<=": v < end, ">": v >= end, ">=": v >= start,
        }[op]
    if literal is None:
        if op == "=":
            return value is None
        if op == "!=":
            return value is not None
        return False
    if op in ("=", "!=") and _is_id_field(name) and isinstance(literal, str) and _ID_RE.fullmatch(
        literal
    ):
        same = _id_equal(value, literal)
        return same if op == "=" else not same
    v = _coerce(value, literal)
    lit = _lit(literal)
    if op == "=":
        return v == lit
    if op == "!=":
        return v != lit
    if v is None:
        return False
    try:
        if op == "<":
            return bool(v < lit)
        if op == "<=":
            return bool(v <= lit)
        if op == ">":
            return bool(v > lit)
        if op == ">=":
            return bool(v >= lit)
    except TypeError:
        return False
    raise SoqlError(f"unknown operator {op}")


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: % any run, _ one char, backslash escapes them; case-insensitive."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def matches(expr: Expr, record: dict[str, Any], get: Getter, now: datetime,
            subquery: SubQueryRunner | None = None) -> bool:
    """Whether ``record`` satisfies ``expr``."""
    if isinstance(expr, BoolOp):
        results = (matches(e, record, get, now, subquery) for e in expr.items)
        return all(results) if expr.op == "AND" else any(results)
    if isinstance(expr, Not):
        return not matches(expr.expr, record, get, now, subquery)
    value = get(record, expr.field)
    if expr.op == "LIKE":
        return value is not None and like_to_regex(expr.value).fullmatch(str(value)) is not None
    if expr.op in ("IN", "NOT IN"):
        if isinstance(expr.value, Query):
            if subquery is None:
                raise SoqlError("semi-join sub-queries are not available here")
            options: Sequence[Any] = subquery(expr.value)
        else:
            options = expr.value
        lookup = _id_lookup(options) if _is_id_field(expr.field) else None
        if lookup is not None:
            full, short = lookup
            hit = isinstance(value, str) and (value in full or value[:15] in short)
        else:
            hit = any(_compare(value, "=", o, expr.field, now) for o in options)
        if expr.op == "NOT IN":
            return not hit  # like !=, NOT IN matches nulls in SOQL
        return hit
    return _compare(value, expr.op, expr.value, expr.field, now)


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return int(value)
    return value


def _keyfunc(get: Getter, name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda r: _sort_key(get(r, name))


def sort_records(records: list[dict[str, Any]], order_by: Sequence[OrderItem],
                 get: Getter) -> list[dict[str, Any]]:
    """Stable multi-key sort with per-key direction and NULLS placement."""
    rows = list(records)
    for item in reversed(order_by):
        nulls = [r for r in rows if get(r, item.field) is None]
        values = [r for r in rows if get(r, item.field) is not None]
        values.sort(key=_keyfunc(get, item.field), reverse=item.descending)
        rows = values + nulls if item.nulls_last else nulls + values
    return rows


def evaluate(query: Query, records: Iterable[dict[str, Any]], get: Getter, now: datetime,
             subquery: SubQueryRunner | None = None) -> list[dict[str, Any]]:
    """Filter, order, offset and limit ``records`` (the projection is the caller's job)."""
    rows = [r for r in records
            if query.where is None or matches(query.where, r, get, now, subquery)]
    if query.order_by:
        rows = sort_records(rows, query.order_by, get)
    rows = rows[query.offset:]
    if query.limit is not None:
        rows = rows[: query.limit]
    return rows
