"""`GET /healthz`: is the store reachable, is polling keeping up, what did the CRM last say.

Healthy (200) when the store answers, a poll succeeded recently (within two poll intervals
plus a minute) and the CRM credentials were not refused since. Otherwise 503. The body
names error types and statuses only, never messages that could carry lead data.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

from state import Store
from state.errors import StoreError
from sync.context import Context
from sync.service.worker import Worker

GRACE = timedelta(minutes=1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class StoreProbe:
    """`Store.check()` at most every `every` seconds: SQLite's quick_check reads the whole
    file, and probes may come every few seconds from several places."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, Any]] | None = None

    def __call__(self, store: Store) -> dict[str, Any]:
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.every:
                return self._last[1]
            try:
                store.check()
                result: dict[str, Any] = {"ok": True, "dialect": store.dialect}
            except StoreError as exc:
                result = {"ok": False, "error": type(exc).__name__}
            self._last = (time.monotonic(), result)
            return result


def health(ctx: Context, worker: Worker, probe: StoreProbe | None = None
           ) -> tuple[bool, dict[str, Any]]:
    now = ctx.clock()
    store = (probe or StoreProbe(every=0))(ctx.store)
    state = worker.state
    with state.lock:
        last_poll, error, auth_failed = state.last_poll, state.crm_error, state.auth_failed
    age = (now - last_poll).total_seconds() if last_poll else None
    limit = 2 * ctx.config.service.poll_interval + GRACE
    polling_ok = last_poll is not None and now - last_poll <= limit
    ok = bool(store["ok"]) and polling_ok and not auth_failed and worker.alive
    body = {
        "status": "ok" if ok else ("starting" if last_poll is None and store["ok"]
                                   and worker.alive else "unhealthy"),
        "crm": ctx.crm,
        "store": store,
        "worker": {"alive": worker.alive, "runs": state.runs},
        "last_poll": {"at": _iso(last_poll), "age_s": round(age, 1) if age is not None
                      else None, "max_age_s": limit.total_seconds()},
        "crm_last_error": None if error is None else {
            "type": error.type, "status": error.status, "job": error.job,
            "at": _iso(error.at)},
        "crm_auth_failed": auth_failed,
    }
    return ok, body


def portals_health(lanes: tuple[tuple[Context, Worker], ...], probe: StoreProbe | None = None
                   ) -> tuple[bool, dict[str, Any]]:
    """Several portals: healthy when every portal is; each portal's figures under its id."""
    probe = probe or StoreProbe(every=0)
    results = {ctx.store.portal: health(ctx, worker, probe) for ctx, worker in lanes}
    ok = all(healthy for healthy, _ in results.values())
    first = next(iter(results.values()))[1]
    starting = all(body["status"] in ("ok", "starting") for _, body in results.values())
    return ok, {"status": "ok" if ok else ("starting" if starting else "unhealthy"),
                "store": first["store"],
                "portals": {portal: body for portal, (_, body) in results.items()}}
