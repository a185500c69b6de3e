"""Rule conditions: compiled once per rulebook, evaluated against normalised lead values.

Values compare as strings, case-insensitively, trimmed. An attribute whose value is missing
or blank is *absent*: it fails every condition on it except `ABSENT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routing.models import Condition, Op


def normalise(value: object) -> str:
    return str(value).strip().lower()


def normalise_attributes(attributes: Mapping[str, object]) -> dict[str, str]:
    """Lower-cased, trimmed values; blank values dropped (absent)."""
    out: dict[str, str] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        v = normalise(value)
        if v:
            out[key] = v
    return out


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: cheap cache key
class CompiledCondition:
    attribute: str
    op: Op
    values: tuple[str, ...]
    value_set: frozenset[str]


def compile_condition(c: Condition) -> CompiledCondition:
    values = tuple(normalise(v) for v in c.values)  # defensive: loader already normalised
    return CompiledCondition(c.attribute, c.op, values, frozenset(values))


_IN, _NOT_IN, _PREFIX, _ABSENT = Op.IN, Op.NOT_IN, Op.PREFIX, Op.ABSENT


def first_failure(
    conditions: tuple[CompiledCondition, ...], attrs: Mapping[str, str]
) -> CompiledCondition | None:
    """The first condition the lead fails (all must hold), or None when the rule matches.

    `ABSENT` holds only for a missing value; `PRESENT` for any value; `IN` / `NOT_IN` compare
    the normalised value with the listed ones; `PREFIX` with their starts. This is the hot
    path: the comparisons are inlined."""
    for c in conditions:
        value = attrs.get(c.attribute)
        op = c.op
        if value is None:
            if op is not _ABSENT:
                return c
        elif op is _IN:
            if value not in c.value_set:
                return c
        elif op is _NOT_IN:
            if value in c.value_set:
                return c
        elif op is _PREFIX:
            if not value.startswith(c.values):
                return c
        elif op is _ABSENT:
            return c
    return None


def describe_failure(c: CompiledCondition, attrs: Mapping[str, str]) -> str:
    """Why `c` failed. Echoes the lead's value only for IN/NOT_IN (categorical attributes);
    never for PREFIX, which is used for ZIP codes (a HIPAA identifier)."""
    value = attrs.get(c.attribute)
    listed = ", ".join(c.values)
    if value is None and c.op is not Op.ABSENT:
        return f"{c.attribute} is missing"
    if c.op is Op.IN:
        return f"{c.attribute}={value!r} not in [{listed}]"
    if c.op is Op.NOT_IN:
        return f"{c.attribute}={value!r} is in excluded [{listed}]"
    if c.op is Op.PREFIX:
        return f"{c.attribute} does not start with any of [{listed}]"
    if c.op is Op.ABSENT:
        return f"{c.attribute} is present"
    return f"{c.attribute} is missing"
