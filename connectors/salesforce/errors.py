"""Salesforce's error taxonomy, in one table: what each answer means for the caller.

Error bodies are JSON lists `[{"message", "errorCode", "fields"}]`. Messages are never
copied into our errors (a validation message can echo field values, which may be PHI);
only the endpoint, the HTTP status and the `errorCode` are kept.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.base import AuthError, CrmError, FatalError, RetriableError
from connectors.retry import retry_after_seconds


class BudgetError(AuthError):
    """The org's rolling 24-hour API budget is (nearly) spent: stop until a person acts or
    the window rolls on. Raised for 403 REQUEST_LIMIT_EXCEEDED and, before any call, when
    fewer than `api_reserve` calls remain."""


# status -> kind, when the errorCode does not decide it (see CODE_KINDS).
ERROR_KINDS: dict[int, type[CrmError]] = {
    0: RetriableError,  # no answer: connection reset, timeout, TLS hiccup
    401: AuthError,  # INVALID_SESSION_ID: token bad or expired (refreshed once if we can)
    403: AuthError,  # API_DISABLED_FOR_ORG, INSUFFICIENT_ACCESS...: permissions
    408: RetriableError,
    409: FatalError,
    429: RetriableError,  # not sent by the REST API itself, but by proxies and gateways
    500: RetriableError,
    502: RetriableError,
    503: RetriableError,
    504: RetriableError,
}

# errorCode -> kind; these win over the status.
CODE_KINDS: dict[str, type[CrmError]] = {
    "REQUEST_LIMIT_EXCEEDED": BudgetError,  # the daily total (see concurrent_limit below)
    "INVALID_SESSION_ID": AuthError,
    "INVALID_AUTH_HEADER": AuthError,
    "API_DISABLED_FOR_ORG": AuthError,
    "API_CURRENTLY_DISABLED": AuthError,
    "INSUFFICIENT_ACCESS": AuthError,
    "SERVER_UNAVAILABLE": RetriableError,
    "UNKNOWN_EXCEPTION": RetriableError,
    "UNABLE_TO_LOCK_ROW": RetriableError,
    "QUERY_TIMEOUT": RetriableError,
    "INVALID_QUERY_LOCATOR": FatalError,
}


def kind_for(status: int, code: str = "", message: str = "") -> type[CrmError]:
    if code == "REQUEST_LIMIT_EXCEEDED" and "concurrent" in message.lower():
        # ConcurrentPerOrgLongTxn: too many long requests right now, not the daily budget
        return RetriableError
    if code in CODE_KINDS:
        return CODE_KINDS[code]
    if status in ERROR_KINDS:
        return ERROR_KINDS[status]
    return RetriableError if status >= 500 else FatalError


def error_code(body: Any) -> tuple[str, str]:
    """(errorCode, message) of an error body (a list, a dict or JSON text)."""
    parsed = body
    if isinstance(body, str | bytes):
        try:
            parsed = json.loads(body)
        except ValueError:
            return "", ""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        first = parsed[0]
        return str(first.get("errorCode") or ""), str(first.get("message") or "")
    if isinstance(parsed, dict):  # OAuth endpoint: {"error", "error_description"}
        return str(parsed.get("errorCode") or parsed.get("error") or ""), ""
    return "", ""


def classify(endpoint: str, status: int, body: Any = None, headers: Any = None) -> CrmError:
    """An error for this answer: endpoint + status + errorCode, never the message text."""
    code, message = error_code(body)
    kind = kind_for(status, code, message)
    detail = f" {code}" if code else ""
    return kind(f"Salesforce {endpoint}: HTTP {status}{detail}", status=status,
                retry_after=retry_after_seconds(headers))


def save_error(errors: Any) -> str:
    """The statusCodes of a SaveResult's `errors[]` (no message text)."""
    codes = [str(e.get("statusCode") or "ERROR") for e in errors or [] if isinstance(e, dict)]
    return ",".join(codes) or "ERROR"
