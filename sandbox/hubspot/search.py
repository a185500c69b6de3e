"""CRM search semantics: filter groups, operators, one sort, offset paging, the 10,000 cap."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import DATETIME_PROPS, NUMERIC_PROPS, Record, iso, parse_time
from .model import object_type as norm_type

__all__ = ["MAX_FILTERS", "MAX_GROUPS", "MAX_LIMIT", "MAX_RESULTS", "SearchError",
           "SearchPlan", "compile_search", "value_of"]

MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_GROUPS = 6  # per the published document ("up to 6 groups")
MAX_FILTERS = 18  # across all groups (HubSpot's documented total)

Predicate = Callable[[Record], bool]
# (object type, record id, other object type) -> ids associated with the record.
AssocLookup = Callable[[str, str, str], set[str]]
_TOKEN_SPLIT = re.compile(r"[\s,;@.\-_/()+]+")


class SearchError(ValueError):
    """A search body HubSpot would answer 400 to (message safe to return)."""


_COMPUTED = frozenset({"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate",
                       "hs_lastmodifieddate"})


def value_of(rec: Record, name: str) -> str | None:
    """A property as HubSpot returns it (computed ones included); None when unset."""
    if name == "hs_object_id":
        return rec.id
    if name in ("createdate", "hs_createdate"):
        return iso(rec.created_ms)
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return iso(rec.updated_ms)
    v = rec.props.get(name)
    return v if v != "" else None


def _ms_of(rec: Record, name: str) -> int | None:
    if name in ("createdate", "hs_createdate"):
        return rec.created_ms
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return rec.updated_ms
    v = rec.props.get(name)
    if not v:
        return None
    try:
        return parse_time(v)
    except ValueError:
        return None


def _num_of(rec: Record, name: str) -> float | None:
    if name == "hs_object_id":
        return float(rec.num)
    v = rec.props.get(name)
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        return None


def _text_of(rec: Record, name: str) -> str | None:
    v = value_of(rec, name)
    return v.casefold() if v is not None else None


def _converter(name: str) -> tuple[Callable[[Record, str], Any], Callable[[str], Any]]:
    """(record accessor, filter-value parser) with the property's comparison type."""
    if name in DATETIME_PROPS:
        def parse_dt(v: str) -> int:
            try:
                return parse_time(v)
            except ValueError as exc:
                raise SearchError(f"a filter value for {name} is not a valid date") from exc
        return _ms_of, parse_dt
    if name in NUMERIC_PROPS:
        def parse_num(v: str) -> float:
            try:
                return float(v)
            except ValueError as exc:
                raise SearchError(f"a filter value for {name} is not a valid number") from exc
        return _num_of, parse_num
    return _text_of, lambda v: v.casefold()


def _compile_filter(f: dict[str, Any], object_type: str, assoc: AssocLookup) -> Predicate:
    name: str = f["propertyName"]
    op: str = f["operator"]
    value = f.get("value")
    values = f.get("values")

    def need(x: Any, what: str) -> Any:
        if x is None:
            raise SearchError(f"operator {op} on {name} needs '{what}'")
        return x

    if name.startswith("associations."):
        # Engagement search by associated record: associations.contact EQ <id>.
        other = norm_type(name.split(".", 1)[1])
        if other is None:
            raise SearchError(f"unknown association {name}")
        if op not in ("EQ", "IN"):
            raise SearchError(f"operator {op} is not supported for {name}")
        wanted = {str(need(value, "value"))} if op == "EQ" else set(map(str, need(values,
                                                                                   "values")))
        return lambda r: not wanted.isdisjoint(assoc(object_type, r.id, other))

    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        has = op == "HAS_PROPERTY"
        if name in _COMPUTED:
            return lambda r: (value_of(r, name) is not None) is has
        if has:
            return lambda r: bool(r.props.get(name))
        return lambda r: not r.props.get(name)

    get, conv = _converter(name)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        # Values are tokenised on whitespace and punctuation; a multi-token query
        # ("example.org") must match consecutive tokens, '*' is a wildcard within a token.
        patterns = [
            re.compile("^" + ".*".join(map(re.escape, t.split("*"))) + "$")
            for t in _TOKEN_SPLIT.split(str(need(value, "value")).casefold()) if t
        ]
        positive = op == "CONTAINS_TOKEN"

        def token_pred(r: Record) -> bool:
            v = value_of(r, name)
            found = False
            if v is not None and patterns:
                toks = [t for t in _TOKEN_SPLIT.split(v.casefold()) if t]
                n = len(patterns)
                found = any(all(p.match(toks[i + j]) for j, p in enumerate(patterns))
                            for i in range(len(toks) - n + 1))
            return found is positive
        return token_pred
    if op in ("IN", "NOT_IN"):
        wanted_set = {conv(str(x)) for x in need(values, "values")}
        if op == "IN":
            return lambda r: get(r, name) in wanted_set
        return lambda r: get(r, name) not in wanted_set
    if op == "BETWEEN":
        lo = conv(str(need(value, "value")))
        hi = conv(str(need(f.get("highValue"), "highValue")))

        def between(r: Record) -> bool:
            v = get(r, name)
            return v is not None and lo <= v <= hi
        return between
    target = conv(str(need(value, "value")))
    if op == "EQ":
        return lambda r: get(r, name) == target
    if op == "NEQ":
        return lambda r: get(r, name) != target
    cmp: dict[str, Callable[[Any], bool]] = {
        "LT": lambda v: v < target, "LTE": lambda v: v <= target,
        "GT": lambda v: v > target, "GTE": lambda v: v >= target,
    }
    if op not in cmp:
        raise SearchError(f"unknown operator {op}")
    test = cmp[op]

    def ordered(r: Record) -> bool:
        v = get(r, name)
        return v is not None and test(v)
    return ordered


_RANGE_OPS = frozenset({"GT", "GTE", "LT", "LTE", "BETWEEN"})


@dataclass
class _Bounds:
    """A createdate range: ``(lo, lo_strict, hi, hi_strict)``, None = open end."""

    lo: int | None = None
    lo_strict: bool = False
    hi: int | None = None
    hi_strict: bool = False

    def tighten_lo(self, v: int, strict: bool) -> None:
        if self.lo is None or v > self.lo or (v == self.lo and strict):
            self.lo, self.lo_strict = v, strict

    def tighten_hi(self, v: int, strict: bool) -> None:
        if self.hi is None or v < self.hi or (v == self.hi and strict):
            self.hi, self.hi_strict = v, strict


def _created_bounds(filters: list[dict[str, Any]]) -> tuple[_Bounds, list[dict[str, Any]]]:
    """The createdate range one AND group implies, and the filters it does not cover."""
    b = _Bounds()
    rest = []
    for f in filters:
        op = f.get("operator")
        if f.get("propertyName") != "createdate" or op not in _RANGE_OPS:
            rest.append(f)
            continue
        try:
            v = parse_time(str(f["value"]))
            h = parse_time(str(f["highValue"])) if op == "BETWEEN" else None
        except (KeyError, ValueError):
            rest.append(f)  # the predicate reports the bad value
            continue
        if op in ("GT", "GTE"):
            b.tighten_lo(v, op == "GT")
        elif op in ("LT", "LTE"):
            b.tighten_hi(v, op == "LT")
        elif h is not None:
            b.tighten_lo(v, False)
            b.tighten_hi(h, False)
        else:
            rest.append(f)
    return b, rest


def _all(preds: list[Predicate]) -> Predicate:
    # Specialised closures: a generator per record would dominate the scan's cost.
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda r: a(r) and b(r)
    return lambda r: all(p(r) for p in preds)


def _any(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    return lambda r: any(p(r) for p in preds)


@dataclass
class SearchPlan:
    """A validated, compiled search request."""

    predicate: Predicate | None
    bounds: _Bounds
    sort_prop: str | None
    descending: bool
    limit: int
    after: int
    properties: list[str] | None
    query: str | None

    def run(self, created_keys: Sequence[int], created_recs: Sequence[Record],
            now: float) -> tuple[int, list[Record]]:
        """(total, page) over records kept in (createdate, id) order, each as the search
        index has it at `now` (index.py): the record itself once its last change is
        `visible_at`, before that the version it replaced (`indexed`, None for a new one)."""
        b = self.bounds
        if b.lo is None:
            start = 0
        else:
            start = (bisect_right if b.lo_strict else bisect_left)(created_keys, b.lo)
        if b.hi is None:
            stop = len(created_keys)
        else:
            stop = (bisect_left if b.hi_strict else bisect_right)(created_keys, b.hi)
        candidates = created_recs[start:stop]
        pred = self.predicate
        q = self.query
        if q is not None:
            base = pred

            def with_query(r: Record) -> bool:
                return (base is None or base(r)) and _query_match(r, q)
            pred = with_query
        # inlined rather than a call per record: this loop is the emulator's hot path
        seen = [v for r in candidates if not r.archived
                and (v := r if r.visible_at <= now else r.indexed) is not None]
        matches = seen if pred is None else [v for v in seen if pred(v)]
        total = len(matches)
        prop = self.sort_prop
        if prop is None or prop == "hs_object_id":
            matches.sort(key=_by_num, reverse=self.descending)
        elif prop in ("createdate", "hs_createdate"):
            if self.descending:
                matches.reverse()
        else:
            get, _ = _converter(prop)
            keyed = [(get(r, prop), r) for r in matches]
            present = [(v, r.num, r) for v, r in keyed if v is not None]
            missing = [r for v, r in keyed if v is None]
            present.sort(key=lambda t: (t[0], t[1]), reverse=self.descending)
            matches = [t[2] for t in present] + missing
        return total, matches[self.after:self.after + self.limit]


def _by_num(r: Record) -> int:
    return r.num


_QUERY_PROPS = ("firstname", "lastname", "email", "phone", "company")


def _query_match(r: Record, q: str) -> bool:
    return any(q in (r.props.get(p) or "").casefold() for p in _QUERY_PROPS)


def compile_search(body: dict[str, Any], object_type: str, assoc: AssocLookup) -> SearchPlan:
    """Validate the semantic limits and compile a (schema-valid) search body."""
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or limit < 0 or limit > MAX_LIMIT:
        raise SearchError(f"limit must be between 0 and {MAX_LIMIT}")
    after_raw = body.get("after") or "0"
    try:
        after = int(after_raw)
    except ValueError as exc:
        raise SearchError("after must be a paging token returned by a previous page") from exc
    if after < 0:
        raise SearchError("after must not be negative")
    if after >= MAX_RESULTS:
        raise SearchError(
            f"Search results are limited to {MAX_RESULTS} records; narrow the filters "
            "(for example by moving a createdate cursor) instead of paging further."
        )
    raw_groups = [g.get("filters") or [] for g in body.get("filterGroups") or []]
    if len(raw_groups) > MAX_GROUPS:
        raise SearchError(f"too many filterGroups ({len(raw_groups)} > {MAX_GROUPS})")
    n_filters = sum(len(g) for g in raw_groups)
    if n_filters > MAX_FILTERS:
        raise SearchError(f"too many filters ({n_filters} > {MAX_FILTERS})")
    raw_groups = [g for g in raw_groups if g]
    bounds = _Bounds()
    if len(raw_groups) == 1:
        # One AND group: its createdate range is applied exactly by bisecting the index.
        bounds, rest = _created_bounds(raw_groups[0])
        groups = [rest]
    else:
        groups = raw_groups
    compiled = [[_compile_filter(f, object_type, assoc) for f in g] for g in groups]
    predicate = _any([_all(g) for g in compiled]) if any(compiled) else None
    sorts = body.get("sorts") or []
    sort_prop: str | None = None
    descending = False
    if sorts:
        first = sorts[0]
        if isinstance(first, str):
            descending = first.startswith("-")
            sort_prop = first.lstrip("-")
        else:
            sort_prop = first["propertyName"]
            descending = first.get("direction", "ASCENDING") == "DESCENDING"
    q = body.get("query")
    return SearchPlan(predicate, bounds, sort_prop, descending, limit, after,
                      body.get("properties") or None, q.casefold() if q else None)
