"""structlog set-up: configured once by the entry point; PHI cannot reach a log line.

Every event passes an allow-list: only known keys survive, values of unknown keys are
dropped (their names are kept under `dropped` so a developer notices). Exceptions are
reduced to their type and frame locations; a message is kept only for exception classes
that declare `phi_safe = True` (our own errors, whose messages carry ids, never lead data).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

ALLOWED_KEYS = frozenset({
    "event", "level", "timestamp", "logger",
    # lead and routing facts: ids and decisions only
    "lead", "crm", "crm_id", "owner", "owner_id", "previous_owner", "coordinator", "rule",
    "status", "reason", "assignment", "sla_due", "release_at", "task_id", "reassignments",
    "attributes_used",
    # operations
    "count", "routed", "held", "unroutable", "skipped", "written", "created", "pending",
    "contacted", "breached", "escalated", "overridden", "failed", "duration_ms", "age_s",
    "endpoint", "method", "http_status", "attempt", "wait_s", "retry_after_s", "error",
    "error_type", "frames", "cursor", "batch", "outcome", "listen", "crm_kind", "state",
    "watching", "interval_s", "job", "version", "path", "kind", "key", "dropped", "source",
    "url", "config", "by",
    # service
    "owners", "unusable", "webhooks", "public_url", "intervals", "portal", "portals",
    # email intake: the format's name, its missing labels (config text, never values)
    "format", "labels", "folder",
})


def allow_list(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    dropped = sorted(key for key in event if key not in ALLOWED_KEYS and key != "exc_info")
    for key in dropped:
        del event[key]
    if dropped:
        event["dropped"] = dropped
    return event


def redact_exception(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace exc_info with the exception type and where it happened, never its message."""
    exc_info = event.pop("exc_info", None)
    if not exc_info:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    _, exc, tb = exc_info
    if exc is None:
        return event
    event["error_type"] = type(exc).__name__
    if getattr(exc, "phi_safe", False):
        event["error"] = str(exc)
    frames = traceback.extract_tb(tb)[-5:] if tb else []
    event["frames"] = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}:{f.name}" for f in frames]
    return event


def configure_logging(fmt: str = "auto", *, level: int = logging.INFO,
                      stream: TextIO | None = None) -> None:
    """Call once, from the entry point. `fmt`: auto (JSON unless a terminal) | json | console."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (structlog.processors.JSONRenderer() if as_json
                     else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_exception,
            allow_list,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
