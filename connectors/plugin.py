"""What a connector plugin provides, and the building blocks of its settings model.

A plugin (entry point group `leadrouter.connectors`) is a `ConnectorPlugin`: its name (the
`[crm] kind` that selects it), the pydantic model of its `[crm.<name>]` table, its factory,
and the CRM property names that hold personal data. The config loader validates the table
with the model, so every connector owns its settings; nothing here imports `sync`.

Every number and duration is bounded: a value that parses fine can still break the service
later (a 30-digit number fits no database; "9000000d" overflows date arithmetic).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
ZERO, MS, SECOND = timedelta(0), timedelta(milliseconds=1), timedelta(seconds=1)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# Bounds for keys without tighter ones of their own: a year is longer than any wait or window
# leadrouter has; a billion is more than any count or size it takes.
MAX_DURATION = timedelta(days=366)
MAX_INTEGER = 1_000_000_000
MAX_NUMBER = 1e9
_SHOWN = 40  # characters of a bad value echoed in a problem line
# validation context key: a function naming why a CRM property may not be used (or None)
REFUSE_PROPERTY = "refuse_property"


@dataclass(frozen=True)
class ConnectorPlugin:
    name: str
    settings_model: type[BaseModel]
    create: Callable[..., Any]  # (settings, fields, *, environ=..., **options) -> Connector
    phi_field_names: frozenset[str] = frozenset()  # CRM properties that hold personal data


class SettingsModel(BaseModel):
    """A config table: unknown keys refused, defaults validated too, frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def shown(value: object) -> str:
    """A value as a problem line quotes it: strings quoted, long ones cut short."""
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= _SHOWN else f'"{value[:_SHOWN]}..."'
    try:
        text = repr(value) if isinstance(value, bool) else str(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        return "a number with thousands of digits"
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def describe(value: object) -> str:
    """A wrong value named by its kind (a table, a list) or quoted."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"the string {shown(value)}" if isinstance(value, str) else shown(value)


def parse_duration(text: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """`"500ms" | "30s" | "5m" | "2h" | "7d"` -> timedelta, at most `maximum`.

    ValueError for anything else, including a number too large for a timedelta (checked
    before one is built, so it is never an OverflowError).
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{shown(text)} is not a duration like "
                         '"500ms", "30s", "5m", "2h" or "7d"')
    seconds = float(match.group(1)) * _UNITS[match.group(2)]  # inf for absurd digit runs
    if not math.isfinite(seconds) or seconds > maximum.total_seconds():
        raise ValueError(f"{shown(text)} is longer than the maximum of "
                         f"{format_duration(maximum)}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact `parse_duration` spelling of `value`."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def span(minimum: timedelta = ZERO, maximum: timedelta = MAX_DURATION) -> BeforeValidator:
    """A duration string (or a timedelta, from code) within [`minimum`, `maximum`]."""
    def parse(value: object) -> timedelta:
        if isinstance(value, timedelta):
            duration = value
            if duration > maximum:
                raise ValueError(f"{format_duration(duration)} is longer than the maximum of "
                                 f"{format_duration(maximum)}")
        elif isinstance(value, str):
            duration = parse_duration(value, maximum=maximum)
        else:
            raise ValueError(f'must be a duration string like "30s", not {describe(value)}')
        if duration < minimum:
            raise ValueError(f"{shown(value)} is shorter than the minimum of "
                             f"{format_duration(minimum)}")
        return duration
    return BeforeValidator(parse)


def whole(minimum: int | None = None, maximum: int = MAX_INTEGER) -> Any:
    """A whole number within bounds (`true` or `2.0` are mistakes, not 1 or 2)."""
    return Field(strict=True, ge=minimum, le=maximum)


def number(minimum: float = 0.0, maximum: float = MAX_NUMBER) -> Any:
    """A finite number within bounds (TOML has inf and nan)."""
    return Field(strict=True, ge=minimum, le=maximum, allow_inf_nan=False)


def _env_name(name: str) -> str:
    if name and not _ENV_NAME.match(name):
        raise ValueError("must be the NAME of an environment variable holding the secret "
                         "(e.g. HUBSPOT_TOKEN), never the secret itself")
    return name


def _required(text: str) -> str:
    if not text:
        raise ValueError("is required")
    return text


def _https(url: str) -> str:
    url = url.rstrip("/")
    if not re.match(r"^https://[^/\s]+", url):
        raise ValueError(f"{shown(url)} must be an https:// URL")
    return url


def _readable(path: str) -> str:
    if path and not Path(path).is_file():
        raise ValueError(f"{shown(path)} is not a readable file")
    return path


def _property(hint: str) -> AfterValidator:
    """A CRM property name; the validation context may refuse it (personal data)."""
    def check(name: str, info: ValidationInfo) -> str:
        refuse = (info.context or {}).get(REFUSE_PROPERTY)
        why = refuse(name) if refuse else None
        if why:
            raise ValueError(f'CRM property "{name}" {why}; {hint}')
        return name
    return AfterValidator(check)


def _property_name(name: str) -> str:
    if name and not _PROPERTY.match(name):
        raise ValueError(f"{shown(name)} is not a CRM property name")
    return name


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """Read-only; empty names (a commented-out default spelled "") dropped."""
    return MappingProxyType({key: value for key, value in mapping.items() if value != ""})


# An environment variable's name (secrets never go in the config file); "" = not set
EnvName = Annotated[str, AfterValidator(_env_name)]
RequiredEnvName = Annotated[str, AfterValidator(_env_name), AfterValidator(_required)]
HttpsUrl = Annotated[str, AfterValidator(_https)]
ReadableFile = Annotated[str, AfterValidator(_readable)]  # "" = none
# property -> accepted values; a record must match all of them to be routed
PropertyFilters = Annotated[
    Mapping[Annotated[str, _property("filter on categories instead")],
            Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]],
    AfterValidator(_frozen)]
# routing metadata written back: fact -> the CRM property it goes to
MetadataNames = Annotated[
    Mapping[Literal["rule", "routed_at", "sla_due", "coordinator"],
            Annotated[str, AfterValidator(_property_name),
                      _property("name a property of its own")]],
    AfterValidator(_frozen)]
