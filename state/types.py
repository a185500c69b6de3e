"""Column types shared by the tables: timezone-aware UTC datetimes and portable JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# JSON everywhere, JSONB on PostgreSQL (comparable, compact).
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out.

    SQLite has no time zone type: values are stored as naive UTC text (fixed width, so
    string order is time order). PostgreSQL stores `timestamptz`. Naive input is refused:
    the store never guesses a time zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the state store; pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        # (value, text) of the last value: a batch binds the same `now` many times. One
        # tuple swapped whole, so threads sharing this processor never see a torn pair.
        last: list[tuple[datetime | None, str | None]] = [(None, None)]

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            seen, text = last[0]
            if value is seen:
                return text
            # SQLite's DATETIME text (naive UTC), written by the C isoformat rather than a %
            # template; an aware UTC value's text less its "+00:00" (`replace` is slow)
            text = as_utc(value).isoformat(sep=" ", timespec="microseconds")[:-6]
            last[0] = (value, text)
            return text

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            # the naive UTC text `bind_processor` writes, read in one step with its zone
            # (every row read has several; `replace(tzinfo=...)` costs several times more)
            if value is None:
                return None
            try:
                parsed = parse(value + "+00:00")
            except ValueError:  # text in another shape (a zone of its own)
                parsed = parse(value)
            if parsed.tzinfo is UTC:
                return parsed
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else as_utc(parsed)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - defensive
            raise TypeError("unexpected datetime value type")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Validate and normalise an aware datetime to UTC (for comparisons in Python)."""
    if value.tzinfo is UTC:
        return value  # already UTC (most values the store handles): no copy
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to the state store; pass an aware datetime")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
