"""Results add themselves up: one rule for every result dataclass, not field by field."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def add_up(total: T, more: T) -> T:
    """Add `more`'s figures to `total` (both the same result dataclass): numbers are summed,
    lists extended, sets joined, nested results added up; anything else (an error, an
    outcome) is kept from `total`, or taken from `more` when `total` has none. Returns
    `total`."""
    for item in fields(total):  # type: ignore[arg-type]
        value: Any = getattr(more, item.name)
        current: Any = getattr(total, item.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            setattr(total, item.name, current + value)
        elif isinstance(value, list):
            current.extend(value)
        elif isinstance(value, set):
            current.update(value)
        elif is_dataclass(value) and not isinstance(value, type):
            add_up(current, value)
        elif current is None:
            setattr(total, item.name, value)
    return total
