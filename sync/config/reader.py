"""Typed, error-collecting access to parsed TOML: every problem is recorded, none raised.

A `Section` wraps one TOML table at a dotted path (`rules[2].pool`). Each accessor checks
the type, records a `Problem` naming the key when it is wrong, and returns a usable
default so validation continues and the admin sees every mistake in one run.
"""

from __future__ import annotations

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


def parse_duration(text: str) -> timedelta:
    """`"500ms" | "30s" | "5m" | "2h" | "7d"` -> timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'"{text}" is not a duration like "500ms", "30s", "5m", "2h" or "7d"')
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


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
            self.error(key, f'"{value}" is not one of: {", ".join(choices)}')
            return default
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.text(key)
        return value or None

    def integer(self, key: str, default: int | None = None, *, required: bool = False,
            minimum: int | None = None) -> int | None:
        value = self._typed(key, (int,), "a whole number", default, required)
        if value is not None and minimum is not None and value < minimum:
            self.error(key, f"must be at least {minimum}, not {value}")
            return default
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = float(self._typed(key, (int, float), "a number", default, False))
        if value < minimum:
            self.error(key, f"must be at least {minimum}, not {value}")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        return self._typed(key, (bool,), "true or false", default, False)

    def duration(self, key: str, default: str | None, *, required: bool = False,
                 positive: bool = True) -> timedelta | None:
        text = self._typed(key, (str,), 'a duration string like "30s"', default, required)
        if text is None:
            return None
        try:
            value = parse_duration(text)
        except ValueError as exc:
            self.error(key, str(exc))
            return parse_duration(default) if default else None
        if positive and value <= timedelta(0):
            self.error(key, "must be longer than zero")
        return value

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
        return f'the string "{value}"'
    return repr(value)
