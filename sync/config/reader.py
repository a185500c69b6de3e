"""Config problems: each one names its key path and the line the file shows it on.

Validation is pydantic's (models in `sync/config/sections.py` and each connector plugin's
settings model); `Problems.validate` turns every error it reports into one `Problem`, its
`loc` spelled as a key path (`rules[2].pool.teams`), and keeps going, so the admin sees every
mistake in one run. Checks across tables (unknown coordinator, duplicate id) add theirs with
`Problems.add`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from connectors.plugin import describe, format_duration, parse_duration, shown

T = TypeVar("T")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_LAST_PART = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")
# pydantic error type -> what the value must be ("must be a whole number, not ...")
_MUST_BE = {
    "int_type": "a whole number", "string_type": "a string", "bool_type": "true or false",
    "float_type": "a number", "dict_type": "a table", "model_type": "a table",
    "list_type": "a list", "tuple_type": "a list", "datetime_type": "a date-time",
}
_FIXED = {"missing": "is required", "extra_forbidden": "unknown key"}
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}  # building one costs more than validating


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

    def validate(self, kind: type[T], data: object, path: str,
                 context: Mapping[str, Any] | None = None) -> T | None:
        """`data` (the table at `path`) validated as `kind`; None after recording every
        error pydantic found in it."""
        try:
            adapter = _ADAPTERS.get(kind) or _ADAPTERS.setdefault(kind, TypeAdapter(kind))
            return adapter.validate_python(data, context=context)
        except ValidationError as exc:
            for error in exc.errors():
                self.add(key_path(path, error["loc"]), message(error))
            return None


def key_path(path: str, loc: tuple[int | str, ...]) -> str:
    """`("rules", 2, "pool")` under "" -> `rules[2].pool`; a dict key's own error is the key."""
    for part in loc:
        if isinstance(part, int):
            path = f"{path}[{part}]"
        elif part != "[key]":
            path = f"{path}.{part}" if path else part
    return path or "config"


def message(error: ErrorDetails) -> str:
    """One pydantic error as a problem line says it (after the key path)."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    if kind in _FIXED:
        return _FIXED[kind]
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "literal_error" and error["loc"][-1:] == ("[key]",):
        return "unknown key"  # a table of named entries (metadata) with a name it lacks
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx["expected"]))
        return f'{shown(value)} is not one of: {", ".join(choices)}'
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, not {shown(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, not {shown(value)}"
    if kind == "finite_number":
        return f"must be a finite number, not {value}"
    if kind in _MUST_BE:
        return f"must be {_MUST_BE[kind]}, not {describe(value)}"
    return error["msg"]


__all__ = ["LineIndex", "Problem", "Problems", "format_duration", "parse_duration", "shown"]
