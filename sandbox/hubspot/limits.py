"""HubSpot's API limits: a rolling 10-second window, the search limit, a daily counter."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Decision", "RateLimiter"]


@dataclass
class Decision:
    """Outcome of one admission check."""

    allowed: bool
    headers: dict[str, str]
    policy: str = ""  # TEN_SECONDLY_ROLLING | SECONDLY | DAILY when refused
    retry_after: int = 0

    def body(self, correlation_id: str) -> dict[str, Any]:
        """HubSpot's 429 body."""
        name = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly",
                "DAILY": "daily"}.get(self.policy, self.policy.lower())
        return {
            "status": "error",
            "message": f"You have reached your {name} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id,
            "policyName": self.policy,
            "groupName": "leadrouter-sandbox",
        }


class RateLimiter:
    """Admission control per request; refused requests do not consume quota."""

    def __init__(self, ten_second_limit: int = 190, search_per_second: int = 5,
                 daily_limit: int = 1_000_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ten_second_limit = ten_second_limit
        self.search_per_second = search_per_second
        self.daily_limit = daily_limit
        self.clock = clock
        self.daily_used = 0
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()

    def reset(self) -> None:
        with self._lock:
            self._window.clear()
            self._search.clear()
            self.daily_used = 0

    def _daily_headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit
                                                           - self.daily_used)),
        }

    def _window_headers(self, used: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.ten_second_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.ten_second_limit - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }

    def admit(self, *, search: bool) -> Decision:
        """Count one call, or refuse it with the policy it hit and a Retry-After."""
        with self._lock:
            now = self.clock()
            while self._window and self._window[0] <= now - 10.0:
                self._window.popleft()
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            if self.daily_used >= self.daily_limit:
                headers = self._daily_headers()
                # The daily quota resets at midnight in the portal's time zone; say an hour.
                headers["Retry-After"] = "3600"
                return Decision(False, headers, "DAILY", 3600)
            if search:
                # Search is limited per second and exempt from the 10-second window; its
                # answers carry no X-HubSpot-RateLimit-* headers.
                if len(self._search) >= self.search_per_second:
                    wait = max(1, math.ceil(self._search[0] + 1.0 - now))
                    return Decision(False, {"Retry-After": str(wait)}, "SECONDLY", wait)
                self._search.append(now)
                self.daily_used += 1
                return Decision(True, {})
            if len(self._window) >= self.ten_second_limit:
                wait = max(1, math.ceil(self._window[0] + 10.0 - now))
                headers = {**self._window_headers(len(self._window)), **self._daily_headers(),
                           "Retry-After": str(wait)}
                return Decision(False, headers, "TEN_SECONDLY_ROLLING", wait)
            self._window.append(now)
            self.daily_used += 1
            return Decision(True, {**self._window_headers(len(self._window)),
                                   **self._daily_headers()})
