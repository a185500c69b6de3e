"""`Retry-After`, read once for every connector: a delay or an HTTP date, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.retry import retry_after_seconds


@pytest.mark.parametrize(("value", "expected"), [
    ("5", 5.0),
    ("0.5", 0.5),
    ("-3", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
    (None, None),
    ("", None),
    ("soon", None),
    ("nan", None),
    ("²", None),
    ("9" * 5000, None),
])
def test_retry_after_is_seconds_or_none(value: str | None, expected: float | None) -> None:
    headers = {} if value is None else {"Retry-After": value}
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    seconds = retry_after_seconds({"retry-after": in_a_minute})
    assert seconds is not None and 55 <= seconds <= 60
