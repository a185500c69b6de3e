"""Logs of the HTTP side that cannot flood: a per-kind line limiter, and the HTTP server's
own log (uvicorn, asyncio) through it.

uvicorn and asyncio log with the standard library; unconfigured, their records reach
stderr with full tracebacks (an `accept()` failing for lack of file descriptors once logged
a traceback per attempt: 145 MB in 30 s). Here each record becomes at most one structlog
line per kind of failure per window: the kind is the logger and the first line of the
message *template* (never its arguments, never the exception's message: either can carry
request content), plus the exception type. The line's `count` says how many records of that
kind the line stands for (itself and the ones held back since the previous line).

The service's own request lines (`webhook.rejected`, `http.failed`) use a `LineLimiter` as
well, with a burst of `REQUEST_LINES` per kind per minute: every malformed request gets its
line until someone sends thousands of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sync.logs import get_logger

log = get_logger("leadrouter.http")
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio")
MAX_KINDS = 200  # kinds tracked; beyond, records are grouped as "other"
REQUEST_LINES = 20  # request log lines per kind (source and outcome) per minute
_KIND_CHARS = 100


@dataclass
class _Window:
    start: float
    written: int = 0
    held: int = 0


class LineLimiter:
    """At most `burst` lines per key per `window` seconds; `admit` returns the count for a
    line to write now (itself plus the lines of that key held back before it), or None to
    hold this one back. Keys past `MAX_KINDS` share one "other" key, so memory is bounded
    whatever the keys are made of."""

    def __init__(self, burst: int = 1, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.window = window
        self.clock = clock
        self._keys: dict[tuple[str, ...], _Window] = {}
        self._lock = threading.Lock()

    def admit(self, key: tuple[str, ...]) -> int | None:
        now = self.clock()
        with self._lock:
            if key not in self._keys and len(self._keys) >= MAX_KINDS:
                key = ("other",)
            seen = self._keys.setdefault(key, _Window(now))
            if now - seen.start >= self.window:
                seen.start, seen.written = now, 0
            if seen.written >= self.burst:
                seen.held += 1
                return None
            count, seen.held = seen.held + 1, 0
            seen.written += 1
            return count


class LimitedServerLog(logging.Handler):
    """A logging handler: one line per (logger, message kind, exception type) per `window`
    seconds. `on_held(logger_name)` is told of each record held back (a metric)."""

    def __init__(self, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 on_held: Callable[[str], None] | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.limiter = LineLimiter(1, window, clock=clock)
        self.on_held = on_held

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = _kind_of(record)
            error_type = record.exc_info[1].__class__.__name__ if (
                record.exc_info and record.exc_info[1] is not None) else None
            count = self.limiter.admit((record.name, kind, error_type or ""))
            if count is None:
                if self.on_held is not None:
                    self.on_held(record.name)
                return
            level = "error" if record.levelno >= logging.ERROR else "warning"
            getattr(log, level)("server.log", source=record.name, kind=kind,
                                error_type=error_type, count=count)
        except Exception:  # a log handler must never raise into the server
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # logging's own name
        return  # the default prints a traceback to stderr: exactly what this class prevents


def _kind_of(record: logging.LogRecord) -> str:
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    first = template.strip().splitlines()[0] if template.strip() else ""
    return first[:_KIND_CHARS]


def install(handler: LimitedServerLog, level: int = logging.WARNING) -> Callable[[], None]:
    """Route the server loggers to `handler` only (no propagation to the root logger, whose
    last-resort handler prints tracebacks). Returns a function that undoes it."""
    saved = []
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level)

    def undo() -> None:
        for logger, handlers, propagate, old_level in saved:
            logger.removeHandler(handler)
            for old in handlers:
                logger.addHandler(old)
            logger.propagate = propagate
            logger.setLevel(old_level)

    return undo
