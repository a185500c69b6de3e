"""WHEN on the command line and in URLs: a duration (`30m`, `24h`, `7d`, `2w`) counted from
now, or an ISO 8601 date-time with an offset."""

from __future__ import annotations

from datetime import datetime, timedelta

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse(text: str, now: datetime, direction: int, meaning: str) -> datetime:
    value = text.strip()
    if len(value) >= 2 and value[-1] in _UNIT_SECONDS and value[:-1].isdigit():
        return now + direction * timedelta(seconds=int(value[:-1]) * _UNIT_SECONDS[value[-1]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration {meaning} nor an ISO 8601 "
                         "date-time with an offset") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-11-30T17:00:00+00:00)")
    return moment  # aware; kept in the offset it was given


def parse_when(text: str, now: datetime) -> datetime:
    """`24h` / `7d` back from `now`, or an ISO 8601 time with an offset."""
    return _parse(text, now, -1, "back from now (24h, 7d)")


def parse_until(text: str, now: datetime) -> datetime:
    """`30m` / `2h` / `1d` forward from `now`, or an ISO 8601 time with an offset."""
    return _parse(text, now, +1, "from now (2h, 1d)")
