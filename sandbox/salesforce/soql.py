"""A SOQL subset: tokenizer, parser and evaluator over in-memory records.

Supported (enough for real connector queries)::

    SELECT f1, f2, Rel.Field | COUNT()  FROM SObject
    [WHERE cond]  [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]  [LIMIT n]  [OFFSET n]

``cond`` combines comparisons with AND / OR / NOT and parentheses; as in Salesforce, AND and
OR cannot be mixed at one level without parentheses. Operators: ``= != <> < <= > >= LIKE``,
``IN (...)`` / ``NOT IN (...)`` with literal lists or a one-field semi-join sub-query.
Literals: 'strings' (with backslash escapes), numbers, true/false, null, dates
(``2026-11-28``), datetimes (``2026-11-28T04:58:00Z``, ``...000+0000``, ``+00:00``) and the
relative date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n (UTC days).

Field existence and literal types are checked by the store (it knows the schema); this module
only raises :class:`SoqlError` ``MALFORMED_QUERY`` for syntax errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sandbox.salesforce.soql_ast import (
    BoolOp,
    Comparison,
    Expr,
    Literal,
    Not,
    OrderItem,
    Query,
    RelativeDate,
    SoqlError,
)

__all__ = [
    "BoolOp",
    "Comparison",
    "Not",
    "OrderItem",
    "Query",
    "RelativeDate",
    "SoqlError",
    "iter_fields",
    "parse",
    "parse_datetime",
]


# -- tokenizer ---------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_KEYWORDS = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT", "GROUP",
    "HAVING", "WITH", "FOR", "INCLUDES", "EXCLUDES",
}
_RELATIVE = {"TODAY", "YESTERDAY", "TOMORROW"}
_RELATIVE_N = {"LAST_N_DAYS", "NEXT_N_DAYS"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # kept escaped: meaningful to LIKE only
            else:
                raise SoqlError(f"Invalid string literal escape sequence '\\{nxt}'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise SoqlError(f"unexpected token at position {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return toks


def parse_datetime(text: str) -> datetime:
    """Parse Salesforce/ISO datetimes (``Z``, ``+0000``, ``+00:00``; optional millis)."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    m = re.fullmatch(r"(.*[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-])(\d{2}):?(\d{2})", t)
    if m:
        t = f"{m.group(1)}{m.group(2)}{m.group(3)}:{m.group(4)}"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# -- parser ------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def kw(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "ident" and t.text.upper() == word

    def take(self) -> _Tok:
        t = self.peek()
        if t is None:
            raise SoqlError("unexpected end of query")
        self.i += 1
        return t

    def at(self, ch: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.text == ch

    def expect_kw(self, word: str) -> None:
        t = self.take()
        if t.kind != "ident" or t.text.upper() != word:
            raise SoqlError(f"unexpected token: '{t.text}' (expected {word})")

    def expect_punct(self, ch: str) -> None:
        t = self.take()
        if t.text != ch:
            raise SoqlError(f"unexpected token: '{t.text}' (expected '{ch}')")

    def ident(self) -> str:
        t = self.take()
        if t.kind != "ident" or t.text.upper() in _KEYWORDS:
            raise SoqlError(f"unexpected token: '{t.text}'")
        return t.text

    def query(self, *, nested: bool = False) -> Query:
        self.expect_kw("SELECT")
        fields: list[str] = []
        count_only = False
        if self.kw("COUNT") and self.at("(", 1):
            self.take()
            self.expect_punct("(")
            self.expect_punct(")")
            count_only = True
        else:
            fields.append(self.ident())
            while self.at(","):
                self.take()
                fields.append(self.ident())
            if self.at("("):
                raise SoqlError("aggregate and function calls are not supported by the sandbox")
        self.expect_kw("FROM")
        q = Query(fields=fields, sobject=self.ident_any(), count_only=count_only)
        if self.kw("WHERE"):
            self.take()
            q.where = self.condition()
        if self.kw("GROUP") or self.kw("HAVING"):
            raise SoqlError("GROUP BY / HAVING are not supported by the sandbox")
        if self.kw("ORDER"):
            self.take()
            self.expect_kw("BY")
            q.order_by.append(self.order_item())
            while self.at(","):
                self.take()
                q.order_by.append(self.order_item())
        if self.kw("LIMIT"):
            self.take()
            q.limit = self.integer()
        if self.kw("OFFSET"):
            self.take()
            q.offset = self.integer()
        if self.kw("FOR"):  # FOR VIEW / FOR REFERENCE / FOR UPDATE: accepted, no effect
            self.take()
            self.ident_any()
        t = self.peek()
        if t is not None and not (nested and t.text == ")"):
            raise SoqlError(f"unexpected token: '{t.text}'")
        return q

    def ident_any(self) -> str:
        t = self.take()
        if t.kind != "ident":
            raise SoqlError(f"unexpected token: '{t.text}'")
        return t.text

    def integer(self) -> int:
        t = self.take()
        if t.kind != "number" or not t.text.lstrip("+").isdigit():
            raise SoqlError(f"expecting a non-negative integer, found '{t.text}'")
        return int(t.text)

    def order_item(self) -> OrderItem:
        item = OrderItem(self.ident())
        if self.kw("ASC") or self.kw("DESC"):
            item.descending = self.take().text.upper() == "DESC"
        if self.kw("NULLS"):
            self.take()
            word = self.ident_any().upper()
            if word not in ("FIRST", "LAST"):
                raise SoqlError(f"unexpected token: '{word}'")
            item.nulls_last = word == "LAST"
        else:
            item.nulls_last = item.descending  # Salesforce default: NULLS FIRST ascending
        return item

    def condition(self) -> Expr:
        items = [self.unary()]
        joiner: str | None = None
        while self.kw("AND") or self.kw("OR"):
            word = self.take().text.upper()
            if joiner is not None and word != joiner:
                raise SoqlError(f"unexpected token: '{word}' (use parentheses to mix AND and OR)")
            joiner = word
            items.append(self.unary())
        return items[0] if joiner is None else BoolOp(joiner, items)

    def unary(self) -> Expr:
        if self.kw("NOT"):
            self.take()
            return Not(self.unary())
        t = self.peek()
        if t is not None and t.text == "(":
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        name = self.ident()
        t = self.take()
        if t.kind == "op":
            op = "!=" if t.text == "<>" else t.text
            return Comparison(name, op, self.literal())
        word = t.text.upper() if t.kind == "ident" else ""
        if word == "LIKE":
            value = self.literal()
            if not isinstance(value, str):
                raise SoqlError("LIKE needs a string literal")
            return Comparison(name, "LIKE", value)
        if word == "NOT" and self.kw("IN"):
            self.take()
            return Comparison(name, "NOT IN", self.in_list())
        if word == "IN":
            return Comparison(name, "IN", self.in_list())
        if word in ("INCLUDES", "EXCLUDES"):
            raise SoqlError("INCLUDES/EXCLUDES are not supported by the sandbox")
        raise SoqlError(f"unexpected token: '{t.text}'")

    def in_list(self) -> list[Literal] | Query:
        self.expect_punct("(")
        if self.kw("SELECT"):
            sub = self.query(nested=True)
            self.expect_punct(")")
            if len(sub.fields) != 1 or sub.count_only:
                raise SoqlError("a semi-join sub-query must select exactly one field")
            return sub
        values = [self.literal()]
        while self.at(","):
            self.take()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def literal(self) -> Literal:
        t = self.take()
        if t.kind == "string":
            return _unescape(t.text[1:-1])
        if t.kind == "number":
            return float(t.text) if "." in t.text else int(t.text)
        if t.kind == "datetime":
            try:
                return parse_datetime(t.text)
            except ValueError as exc:
                raise SoqlError(f"invalid datetime literal {t.text}") from exc
        if t.kind == "date":
            try:
                return date.fromisoformat(t.text)
            except ValueError as exc:
                raise SoqlError(f"invalid date literal {t.text}") from exc
        if t.kind == "ident":
            word = t.text.upper()
            if word == "NULL":
                return None
            if word in ("TRUE", "FALSE"):
                return word == "TRUE"
            if word in _RELATIVE:
                return RelativeDate(word)
            if word in _RELATIVE_N:
                self.expect_punct(":")
                return RelativeDate(word, self.integer())
        raise SoqlError(f"unexpected token: '{t.text}' (expected a literal)")


def parse(text: str) -> Query:
    """Parse one SOQL statement; raises :class:`SoqlError` (MALFORMED_QUERY)."""
    if not text or not text.strip():
        raise SoqlError("empty query")
    return _Parser(text).query()


def iter_fields(expr: Expr | None) -> Iterable[Comparison]:
    """Every comparison in a condition tree (for schema validation)."""
    if expr is None:
        return
    if isinstance(expr, Comparison):
        yield expr
    elif isinstance(expr, Not):
        yield from iter_fields(expr.expr)
    else:
        for e in expr.items:
            yield from iter_fields(e)
