"""Client-side rate limiting: a rolling window per bucket, so 429s stay rare, not routine."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RollingWindow:
    """At most `limit` calls in any `window` seconds; `pause_until` honours a Retry-After.

    Thread-safe. `clock` and `sleep` are injectable so tests need not wait.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause_until(self, moment: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, moment)

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock() + seconds)

    def acquire(self) -> float:
        """Block until a call may be made; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.window:
                    self._calls.popleft()
                delay = self._paused_until - now
                if delay <= 0 and len(self._calls) < self.limit:
                    self._calls.append(now)
                    return waited
                if delay <= 0:
                    delay = self._calls[0] + self.window - now
            delay = max(delay, 0.001)
            self._sleep(delay)
            waited += delay
