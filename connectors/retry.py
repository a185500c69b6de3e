"""The one retry layer: tenacity, exponential jitter, `Retry-After` honoured, bounded."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from connectors.base import RetriableError

T = TypeVar("T")
log = structlog.get_logger("leadrouter.crm")


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` as seconds (a delay or an HTTP date); None when absent or unreadable.

    Every connector reads it through this one function; the retry layer below honours it.
    """
    if headers is None:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    text = str(value).strip()
    if len(text) > 40:  # longer than any delay or HTTP date: unreadable
        return None
    try:
        seconds = float(text)
        return max(0.0, seconds) if not math.isnan(seconds) else None
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter, but never less than the server's Retry-After."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self._backoff(state))
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # a small margin so the next call lands after the window, not on its edge
            wait = max(wait, float(retry_after) + 0.05)
        return wait


class _RetryAfterTooLong(stop_base):
    """Stop retrying when the server asks for a longer wait than a cycle should block:
    the error goes up, the cycle moves on, and the next one tries again."""

    def __init__(self, maximum: float) -> None:
        self._maximum = maximum

    def __call__(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        return retry_after is not None and float(retry_after) > self._maximum


def _log_retry(endpoint: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning("crm.retry", endpoint=endpoint, attempt=state.attempt_number,
                    wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
                    http_status=getattr(error, "status", None),
                    error_type=type(error).__name__ if error else None)
    return before_sleep


class RetryPolicy:
    """How often and how long to retry a retriable CRM error. `sleep` is injectable."""

    def __init__(self, *, attempts: int = 6, initial: float = 0.5, maximum: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts = attempts
        self.initial = initial
        self.maximum = maximum
        self.sleep = sleep

    def call(self, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            wait=_WaitHonouringRetryAfter(self.initial, self.maximum),
            stop=stop_after_attempt(self.attempts) | _RetryAfterTooLong(self.maximum),
            reraise=True,
            sleep=self.sleep,
            before_sleep=_log_retry(endpoint),
        )
        return retrying(fn, *args, **kwargs)
