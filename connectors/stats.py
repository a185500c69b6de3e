"""API call counts per endpoint, kept by each connector's transport for metrics and benches."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class CallStats:
    # the statuses that mean "slow down": HubSpot 429; Salesforce adds 403 limit refusals
    throttle_statuses: frozenset[int] = frozenset({429})
    calls: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, endpoint: str, status: int) -> None:
        with self.lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            if status in self.throttle_statuses:
                self.throttled[endpoint] = self.throttled.get(endpoint, 0) + 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.calls.values())
