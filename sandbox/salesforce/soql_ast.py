"""The parsed form of a SOQL query (see :mod:`sandbox.salesforce.soql` for the grammar)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any


class SoqlError(Exception):
    """A query Salesforce would refuse; ``code`` is the Salesforce errorCode."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RelativeDate:
    """TODAY, LAST_N_DAYS:7 ... resolved against ``now`` at evaluation time."""

    name: str
    n: int = 0

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The half-open UTC range [start, end) the literal denotes."""
        day = datetime(now.year, now.month, now.day, tzinfo=UTC)
        one = timedelta(days=1)
        if self.name == "TODAY":
            return day, day + one
        if self.name == "YESTERDAY":
            return day - one, day
        if self.name == "TOMORROW":
            return day + one, day + 2 * one
        if self.name == "LAST_N_DAYS":
            return day - self.n * one, day + one
        if self.name == "NEXT_N_DAYS":
            return day + one, day + (self.n + 1) * one
        raise SoqlError(f"unsupported date literal {self.name}")


Literal = str | int | float | bool | date | datetime | RelativeDate | None


@dataclass
class Comparison:
    field: str
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Any  # a Literal, a list of Literals (IN) or a Query (semi-join)


@dataclass
class BoolOp:
    op: str  # AND | OR
    items: list[Expr]


@dataclass
class Not:
    expr: Expr


Expr = Comparison | BoolOp | Not


@dataclass
class OrderItem:
    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Expr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    count_only: bool = False  # SELECT COUNT()
