"""A rule's `when` table -> routing `Condition`s, with the values the store can hold.

`when` conditions: attr = "x" | ["x", "y"] | { in = [...] } | { not_in = [...] } |
{ prefix = [...] } | { present = true|false }. Every listed attribute must be named in
[fields]; values compare as strings, case-insensitively, trimmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routing.models import Condition, Op
from sync.config.reader import Problems
from sync.vocabulary import MAX_VALUE_LENGTH, OTHER


def build_conditions(problems: Problems, rule: str, when: Mapping[str, Any],
                     fields: Mapping[str, str]) -> tuple[Condition, ...]:
    """The conditions of the rule at path `rule`; each bad one is a problem."""
    conditions: list[Condition] = []
    for attribute, value in when.items():
        path = f"{rule}.when.{attribute}"
        if attribute not in fields:
            problems.add(path, f'"{attribute}" is not a lead attribute named in [fields]')
            continue
        condition = _condition(attribute, value)
        if not isinstance(condition, str):
            condition = _storable(condition)
        if isinstance(condition, str):
            problems.add(path, condition)
        else:
            conditions.append(condition)
    return tuple(conditions)


def _storable(condition: Condition) -> Condition | str:
    """A value the store can keep: the store reduces a lead's values to those rules list
    (sync/vocabulary.py), keeping at most MAX_VALUE_LENGTH characters, and writes OTHER for
    the rest, so a longer value, or OTHER itself, could never match as written."""
    for value in condition.values:
        if len(value) > MAX_VALUE_LENGTH:
            return f"a value longer than {MAX_VALUE_LENGTH} characters can never match"
        if value == OTHER:
            return f'"{OTHER}" is what leadrouter stores for values no rule lists; it cannot ' \
                   "be a condition value"
    return condition


def _condition(attribute: str, value: Any) -> Condition | str:
    def norm(items: list[Any] | str) -> tuple[str, ...] | None:
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, list) or not all(isinstance(i, str | int) for i in items):
            return None
        return tuple(str(i).strip().lower() for i in items)

    if isinstance(value, str | list):
        values = norm(value)
        return Condition(attribute, Op.IN, values) if values else "must be a value or a list"
    if isinstance(value, dict) and len(value) == 1:
        (op, argument), = value.items()
        if op in ("in", "not_in", "prefix"):
            values = norm(argument)
            if not values:
                return f"`{op}` needs a value or a list of values"
            return Condition(attribute, Op(op), values)
        if op == "present" and isinstance(argument, bool):
            return Condition(attribute, Op.PRESENT if argument else Op.ABSENT)
    return ('must be a value, a list, or one of { in = [...] }, { not_in = [...] }, '
            '{ prefix = [...] }, { present = true|false }')
