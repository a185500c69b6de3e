"""HubSpot's error taxonomy, in one table: what each answer means for the caller."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.base import AuthError, CrmError, FatalError, RetriableError

# status -> kind. 401: the token is bad or revoked; 403: missing scopes — both need a person.
# 429 and 5xx are transient; every other 4xx means the request itself is wrong.
ERROR_KINDS: dict[int, type[CrmError]] = {
    0: RetriableError,  # no answer: connection reset, timeout, TLS hiccup
    401: AuthError,
    403: AuthError,
    408: RetriableError,
    409: FatalError,
    423: RetriableError,
    429: RetriableError,
    500: RetriableError,
    502: RetriableError,
    503: RetriableError,
    504: RetriableError,
}


def kind_for(status: int) -> type[CrmError]:
    if status in ERROR_KINDS:
        return ERROR_KINDS[status]
    return RetriableError if status >= 500 else FatalError


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` as seconds (delta or HTTP date); None when absent or unreadable."""
    if headers is None:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def classify(endpoint: str, status: int, headers: Any = None, body: Any = None) -> CrmError:
    """An error for this answer. The message keeps HubSpot's category, never the body text
    (a validation message can echo property values, which may be PHI)."""
    category = ""
    if body:
        try:
            parsed = json.loads(body) if isinstance(body, str | bytes) else {}
            category = str(parsed.get("category") or parsed.get("errorType") or "")
            policy = parsed.get("policyName")
            if policy:
                category = f"{category} {policy}".strip()
        except (ValueError, AttributeError):
            category = ""
    kind = kind_for(status)
    if status == 429 and category.endswith("DAILY"):
        # the daily budget is spent (Retry-After: hours): a person must act, don't spin
        kind = AuthError
    detail = f" {category}" if category else ""
    return kind(f"HubSpot {endpoint}: HTTP {status}{detail}", status=status,
                retry_after=retry_after_seconds(headers))
