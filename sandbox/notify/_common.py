"""What the three receivers share: a thread-safe inbox and a queue of injected failures."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["FailPlan", "Inbox"]

T = TypeVar("T")
F = TypeVar("F")


class Inbox(Generic[T]):
    """Accepted items, appended by server threads and read (as snapshots) by tests."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[T] = []
        # seconds between keeping an item and answering: a sender killed meanwhile cannot
        # know its message arrived (crash tests widen that window with it)
        self.hold = 0.0

    def add(self, item: T) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()
        if self.hold > 0:
            time.sleep(self.hold)

    def snapshot(self) -> list[T]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """True once at least `count` items arrived; False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


class FailPlan(Generic[F]):
    """The next `n` requests fail as `fault` describes; each request takes one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left = 0
        self._fault: F | None = None

    def arm(self, n: int, fault: F) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            self._left = n
            self._fault = fault

    def take(self) -> F | None:
        """The fault for this request, or None when none is armed (uses one up)."""
        with self._lock:
            if self._left <= 0:
                return None
            self._left -= 1
            return self._fault

    @property
    def pending(self) -> int:
        with self._lock:
            return self._left
