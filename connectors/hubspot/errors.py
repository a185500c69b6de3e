"""HubSpot's error taxonomy, in one table: what each answer means for the caller."""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.base import AuthError, CrmError, FatalError, RetriableError
from connectors.retry import retry_after_seconds

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
    error = kind(f"HubSpot {endpoint}: HTTP {status}{detail}", status=status,
                 retry_after=retry_after_seconds(headers))
    if status == 409:  # "Contact already exists. Existing ID: 123": the id, nothing else
        found = re.search(r"Existing ID: (\d{1,19})", str(body or "")[:2000])
        error.existing_id = found.group(1) if found else None  # type: ignore[attr-defined]
    return error
