"""HubSpot property values: datetimes arrive as ISO strings or epoch milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# ASCII digits only (str.isdigit() also accepts "²" and other scripts' digits, which int()
# refuses), and few enough that the value is a date: 15 digits of epoch ms reach year 33658
_EPOCH_MS = re.compile(r"^[0-9]{1,15}$")


def parse_time(value: object) -> datetime | None:
    """A HubSpot date-time, or None when the value is missing or not a date-time."""
    if value is None or value == "":
        return None
    text = str(value).strip()[:64]
    try:
        if _EPOCH_MS.match(text):
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_ms(value: object) -> int | None:
    moment = parse_time(value)
    return None if moment is None else int(moment.timestamp() * 1000)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
