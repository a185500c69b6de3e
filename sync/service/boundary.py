"""The last line of defence of the HTTP side: any exception a request handler did not
expect becomes one redacted log line and a 500, never a traceback on stderr.

Handlers answer every failure they know of with a 4xx themselves; this catches what they do
not know of yet. The log line names the exception type and the route, never the exception's
message, the request body or the raw path (a webhook path can carry a secret).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from sync.logs import get_logger
from sync.service.metrics import Metrics
from sync.service.serverlog import LineLimiter
from sync.service.webhook_routes import webhook_paths

log = get_logger("leadrouter.http")
FIXED_ROUTES = ("/", "/healthz", "/metrics")


def service_routes() -> tuple[str, ...]:
    """The service's routes: its own and the webhook paths the connector plugins declare."""
    return (*FIXED_ROUTES, *webhook_paths())


def route_of(path: str, routes: Sequence[str]) -> str:
    """The route a path belongs to, safe to log: a path under a route with a parameter is
    that route, its parameter (a secret, say) never written out."""
    if path in routes:
        return path
    for route in routes:
        head, brace, _ = route.partition("{")
        if brace and path.startswith(head):
            return route
    return "other"


class ErrorBoundary:
    """ASGI middleware, outermost. Counts what it caught (`leadrouter_http_errors`); its
    log lines go through `limit` like every request line."""

    def __init__(self, app: Any, metrics: Metrics, limit: LineLimiter,
                 routes: Sequence[str] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.limit = limit
        self.routes = tuple(service_routes() if routes is None else routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:  # the point: nothing escapes to uvicorn
            error_type = type(exc).__name__
            self.metrics.http_errors.labels(error_type).inc()
            count = self.limit.admit(("http.failed", error_type))
            if count is None:
                self.metrics.log_held.labels("leadrouter.http").inc()
            else:
                log.error("http.failed", error_type=error_type, method=scope.get("method"),
                          path=route_of(str(scope.get("path", "")), self.routes),
                          http_status=500,
                          **({"count": count} if count > 1 else {}))
            if not started:
                with contextlib.suppress(Exception):  # the client may be gone already
                    await send({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"connection", b"close")]})
                    await send({"type": "http.response.body", "body": b"internal error\n"})
