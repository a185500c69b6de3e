"""The idempotency marker every task leadrouter creates carries (in its body/description).

After an uncertain create, a connector looks for the marker before creating again, so a
retried create never makes a second task. Written once for every connector.
"""

from __future__ import annotations

MARKER_PREFIX = "leadrouter-ref:"


def marker(key: str) -> str:
    """The marker for the outbox key `key` (e.g. `lead/123/v1/task`)."""
    return f"{MARKER_PREFIX}{key}"


def marker_in(text: str) -> str:
    """The marker token inside a task's text ('' when there is none)."""
    start = text.find(MARKER_PREFIX)
    if start < 0:
        return ""
    return text[start:].split()[0]
