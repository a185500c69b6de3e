"""Step results add themselves up: one rule for every result dataclass, not field by field."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def add_up(total: T, more: T) -> T:
    """Add `more`'s figures to `total` (both the same result dataclass): numbers are summed,
    lists extended; anything else is left as it is. Returns `total`."""
    for item in fields(total):  # type: ignore[arg-type]
        value: Any = getattr(more, item.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            setattr(total, item.name, getattr(total, item.name) + value)
        elif isinstance(value, list):
            getattr(total, item.name).extend(value)
    return total
