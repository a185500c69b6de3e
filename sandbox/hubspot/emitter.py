"""Turns contact changes in the sandbox into webhook deliveries, as a subscribed app sees."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from .webhooks import WebhookSender, contact_creation, property_change

__all__ = ["WebhookEmitter"]


class WebhookEmitter:
    """Queues ``contact.creation`` / ``contact.propertyChange`` events and posts them in
    batches from a background thread (HubSpot batches up to 100 events per request)."""

    def __init__(self, sender: WebhookSender, *, properties: Iterable[str] | None = None,
                 creation: bool = True, interval: float = 0.1, duplicate: bool = False,
                 out_of_order: bool = False) -> None:
        self.sender = sender
        self.properties = set(properties) if properties is not None else None
        self.creation = creation
        self.interval = interval
        self.duplicate = duplicate
        self.out_of_order = out_of_order
        self.paused = False  # hold deliveries (a webhook outage); they go out on resume
        self._queue: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
        self._thread.start()

    def observe(self, kind: str, object_type: str, record_id: str, changes: dict[str, str],
                source: str) -> None:
        """Store observer: called under the store lock, so it only enqueues."""
        if object_type != "contacts":
            return
        events = []
        if kind == "creation" and self.creation:
            events.append(contact_creation(record_id))
        elif kind == "propertyChange":
            events += [property_change(record_id, name, value, change_source=source)
                       for name, value in changes.items()
                       if self.properties is None or name in self.properties]
        if events:
            with self._cond:
                self._queue.extend(events)
                self._cond.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set() and (not self._queue or self.paused):
                    self._cond.wait(0.2)
                if self._stop.is_set():
                    return
                self._busy = True
            # Let a burst accumulate into one batch, as HubSpot does.
            time.sleep(self.interval)
            with self._cond:
                batch, self._queue = self._queue, []
            try:
                if batch:
                    self.sender.send(batch, duplicate=self.duplicate,
                                     out_of_order=self.out_of_order)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self.paused = False
            self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was posted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
