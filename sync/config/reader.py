"""Typed, error-collecting access to parsed TOML: every problem is recorded, none raised.

A `Section` wraps one TOML table at a dotted path (`rules[2].pool`). Each accessor checks
the type, records a `Problem` naming the key when it is wrong, and returns a usable
default so validation continues and the admin sees every mistake in one run.

Every number and duration is bounded. Without a bound a value that parses fine can still
break the service later (`sla = "9000000d"` overflowed date arithmetic in routing; a
30-digit number fits no database or C integer), so each accessor has a maximum by
default, and call sites set tighter ones where the key's meaning allows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_LAST_PART = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")

# Defaults for keys without a tighter bound of their own: a year is longer than any wait,
# interval or window leadrouter has; a billion is more than any count or size it takes.
MAX_DURATION = timedelta(days=366)
MAX_INTEGER = 1_000_000_000
MAX_NUMBER = 1e9
_SHOWN = 40  # characters of a bad value echoed in a problem line


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


def shown(value: object) -> str:
    """A value as a problem line quotes it: strings quoted, long ones cut short."""
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= _SHOWN else f'"{value[:_SHOWN]}..."'
    try:
        text = str(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        return "a number with thousands of digits"
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def format_duration(value: timedelta) -> str:
    """The shortest exact `parse_duration` spelling of `value`."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


class LineIndex:
    """Maps config paths (`rules[2].pool`) to source lines, best effort, from the raw text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "").replace(" ", "")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = f"{name}[{index}]"
                else:
                    table = self._with_indexes(name, counts)
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                path = f"{table}.{key.group(1).strip(chr(34))}" if table else key.group(1)
                self._lines.setdefault(path, number)

    @staticmethod
    def _with_indexes(name: str, counts: dict[str, int]) -> str:
        # `[rules.task]` inside the third `[[rules]]` belongs to `rules[2].task`
        for array, count in sorted(counts.items(), key=lambda item: -len(item[0])):
            if name.startswith(array + "."):
                return f"{array}[{count - 1}]{name[len(array):]}"
        return name

    def line_of(self, path: str) -> int | None:
        """The line of `path` or of its nearest ancestor that the text shows."""
        probe = path
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            parent = _LAST_PART.sub("", probe)
            if parent == probe:
                break
            probe = parent
        return None


@dataclass(frozen=True, order=True)
class Problem:
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {self.message}{where}"


@dataclass
class Problems:
    lines: LineIndex
    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(self.lines.line_of(path), path, message))


_MISSING: Any = object()


class Section:
    """One TOML table; accessors record problems and return defaults instead of raising."""

    def __init__(self, data: dict[str, Any], path: str, problems: Problems) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self._seen: set[str] = set()

    def child_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> None:
        self.problems.add(self.child_path(key) if key else self.path or "config", message)

    def has(self, key: str) -> bool:
        self._seen.add(key)
        return key in self.data

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self.data.get(key, _MISSING)

    def _typed(self, key: str, kinds: tuple[type, ...], label: str, default: T,
               required: bool) -> T:
        value = self.raw(key)
        if value is _MISSING:
            if required:
                self.error(key, "is required")
            return default
        # bool is an int in Python; a capacity of `true` is a mistake, not 1
        if isinstance(value, bool) and bool not in kinds:
            self.error(key, f"must be {label}, not {value!r}")
            return default
        if not isinstance(value, kinds):
            self.error(key, f"must be {label}, not {_describe(value)}")
            return default
        return value  # type: ignore[return-value]

    def text(self, key: str, default: str = "", *, required: bool = False,
            choices: tuple[str, ...] = ()) -> str:
        value = self._typed(key, (str,), "a string", default, required).strip()
        if choices and self.has(key) and value not in choices:
            self.error(key, f'{shown(value)} is not one of: {", ".join(choices)}')
            return default
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.text(key)
        return value or None

    def integer(self, key: str, default: int | None = None, *, required: bool = False,
            minimum: int | None = None, maximum: int = MAX_INTEGER) -> int | None:
        value = self._typed(key, (int,), "a whole number", default, required)
        if value is None:
            return None
        if minimum is not None and value < minimum:
            self.error(key, f"must be at least {minimum}, not {shown(value)}")
            return default
        if value > maximum:
            self.error(key, f"must be at most {maximum}, not {shown(value)}")
            return default
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0,
               maximum: float = MAX_NUMBER) -> float:
        raw = self._typed(key, (int, float), "a number", default, False)
        # TOML has inf and nan, and `nan < minimum` is False: refuse them by name
        if isinstance(raw, float) and not math.isfinite(raw):
            self.error(key, f"must be a finite number, not {raw}")
            return default
        if not minimum <= raw <= maximum:
            self.error(key, f"must be between {minimum:g} and {maximum:g}, not {shown(raw)}")
            return default
        return float(raw)

    def flag(self, key: str, default: bool) -> bool:
        return self._typed(key, (bool,), "true or false", default, False)

    def duration(self, key: str, default: str | None, *, required: bool = False,
                 positive: bool = True, minimum: timedelta | None = None,
                 maximum: timedelta = MAX_DURATION) -> timedelta | None:
        """A duration string within [`minimum`, `maximum`]; `positive` alone means > 0.

        Out of range: the problem is recorded and the default returned, so nothing after
        validation ever sees the bad value.
        """
        text = self._typed(key, (str,), 'a duration string like "30s"', default, required)
        if text is None:
            return None
        fallback = parse_duration(default, maximum=MAX_DURATION) if default else None
        try:
            value = parse_duration(text, maximum=maximum)
        except ValueError as exc:
            self.error(key, str(exc))
            return fallback
        if minimum is not None and value < minimum:
            self.error(key, f"{shown(text)} is shorter than the minimum of "
                       f"{format_duration(minimum)}")
            return fallback
        if positive and value <= timedelta(0):
            self.error(key, "must be longer than zero")
            return fallback
        return value

    def span(self, key: str, default: str, *, minimum: timedelta,
             maximum: timedelta) -> timedelta:
        """An optional duration with a default, bounds spelled out: never None, and zero
        stays zero where `minimum` allows it (`x or default` would turn "0s" into default)."""
        value = self.duration(key, default, positive=False, minimum=minimum, maximum=maximum)
        return value if value is not None else parse_duration(default)

    def str_list(self, key: str, *, required: bool = False,
                 allow_single: bool = False) -> tuple[str, ...]:
        value = self.raw(key)
        if value is _MISSING:
            if required:
                self.error(key, "is required")
            return ()
        if allow_single and isinstance(value, str):
            return (value.strip(),)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.error(key, f"must be a list of strings, not {_describe(value)}")
            return ()
        return tuple(item.strip() for item in value)

    def table(self, key: str, *, required: bool = False) -> Section | None:
        value = self.raw(key)
        if value is _MISSING:
            if required:
                self.error(key, "is required")
            return None
        if not isinstance(value, dict):
            self.error(key, f"must be a table, not {_describe(value)}")
            return None
        return Section(value, self.child_path(key), self.problems)

    def tables(self, key: str) -> Iterator[Section]:
        """Each table of an array of tables (`[[rules]]`), with its index in the path."""
        value = self.raw(key)
        if value is _MISSING:
            return
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.error(key, f"must be an array of tables ([[{key}]]), not {_describe(value)}")
            return
        for index, item in enumerate(value):
            yield Section(item, f"{self.child_path(key)}[{index}]", self.problems)

    def each_table(self, key: str) -> Iterator[tuple[str, Section]]:
        """Named sub-tables (`[schedules.day]`, `[schedules.night]`)."""
        section = self.table(key)
        if section is None:
            return
        for name in list(section.data):
            child = section.table(name)
            if child is not None:
                yield name, child

    def check(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        """Run `convert` on the raw value, recording its ValueError as a problem."""
        value = self.raw(key)
        if value is _MISSING:
            return default
        try:
            return convert(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return default

    def finish(self) -> None:
        """Report keys nobody asked for: a typo must not be silently ignored."""
        for key in self.data:
            if key not in self._seen:
                self.error(key, "unknown key")


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    return shown(value)
