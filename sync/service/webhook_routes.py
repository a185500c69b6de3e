"""Webhooks on the service side: which endpoints the installed connector plugins declare, and
the inbox write. Verification and parsing belong to each connector (`connectors.webhooks`);
the HTTP layer lives in `app.py`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from datetime import datetime
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points

from connectors.registry import GROUP
from connectors.webhooks import InboxEvent, WebhookEndpoint
from state import Store, StoreUnavailable

LOCK_RETRY = 0.002  # seconds between tries while the worker holds the write lock
ENDPOINT_HOOK = "WEBHOOK_ENDPOINT"


def _declared(entry: EntryPoint) -> WebhookEndpoint | None:
    """A plugin's endpoint: its entry point's `webhook_endpoint`, else the module-level
    hook `WEBHOOK_ENDPOINT` of the `webhooks` module in the plugin's package."""
    found = getattr(entry.load(), "webhook_endpoint", None)
    if found is None:
        name = f"{entry.module.rpartition('.')[0]}.webhooks"
        try:
            found = getattr(import_module(name), ENDPOINT_HOOK, None)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module is there but cannot load: a broken install
                raise
    return found if isinstance(found, WebhookEndpoint) else None


@functools.cache
def declared_endpoints() -> tuple[WebhookEndpoint, ...]:
    """The webhook endpoints of every installed connector plugin, by plugin name. All are
    served, configured or not: a request for one that is off is refused like an unknown
    path, and counted."""
    entries = sorted(entry_points(group=GROUP), key=lambda entry: entry.name)
    return tuple(endpoint for entry in entries if (endpoint := _declared(entry)) is not None)


def webhook_paths() -> tuple[str, ...]:
    return tuple(path for endpoint in declared_endpoints() for path in endpoint.paths)


def persist(store: Store, events: Sequence[InboxEvent], now: datetime, *,
            lock_wait: float = 5.0) -> tuple[int, int]:
    """All events in one transaction; (new, duplicates).

    A store whose connections do not wait for locks themselves (see
    `sync.service.runner.webhook_store`) raises at once while the worker writes; the
    transaction is then retried every few milliseconds, so the answer waits no longer
    than the worker's transaction does (SQLite's own busy handler sleeps in growing steps
    of up to 100 ms).
    """
    if not events:
        return 0, 0
    deadline = time.monotonic() + lock_wait
    while True:
        try:
            new = 0
            with store.unit_of_work() as uow:
                for event in events:
                    new += int(uow.inbox.add(event.source, event.dedupe_key, event.crm_id,
                                             event.event_type, event.occurred_at,
                                             received_at=now))
                uow.commit()
            return new, len(events) - new
        except StoreUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_RETRY)
