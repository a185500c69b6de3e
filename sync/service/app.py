"""The HTTP side of `leadrouter run`: webhooks, /healthz, /metrics and the dashboard (`/`,
`/api/report`, `/static/...`: `dashboard.py`), Starlette on uvicorn.

Webhook handlers verify, persist to the inbox in one transaction, answer, then wake the
worker: the answer never waits for the CRM. Store access runs in the thread pool so the
event loop stays free for other deliveries. Each connector plugin declares its webhook
paths and answers (`connectors.webhooks`); the one handler here serves them all.

Before anything is stored, in this order (cheapest first, nothing read before it is needed):
the source network (allow-list), what the connector checks before the body (a client
certificate, a secret path segment, when configured), the body size, the payload (signature,
shape, record ids, at most 100 events), then the per-minute budget of stored events. Every
refusal is a 4xx with one log line; an exception nobody expected is one line and a 500
(`boundary.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.webhooks import (
    InboxEvent,
    WebhookAnswer,
    WebhookBatch,
    WebhookEndpoint,
    WebhookRejected,
    WebhookRequest,
    WebhookSource,
)
from state import Store
from state.errors import StoreError
from sync.config.models import IPNetwork
from sync.context import Context
from sync.logs import get_logger
from sync.service.ack import AckRoute
from sync.service.boundary import ErrorBoundary
from sync.service.dashboard import Dashboard
from sync.service.health import StoreProbe, health, portals_health
from sync.service.intake import EventBudget, ForwardedHeaders, parse_address, retry_after, within
from sync.service.metrics import CONTENT_TYPE, Metrics
from sync.service.protocol import CLIENT_CERT
from sync.service.serverlog import REQUEST_LINES, LineLimiter
from sync.service.webhook_routes import declared_endpoints, persist
from sync.service.worker import Worker

log = get_logger("leadrouter.http")
_LENGTH = re.compile(r"[0-9]{1,18}")  # explicit range: ASCII digits only


@dataclass(frozen=True)
class PortalWebhooks:
    """One portal's webhook source, where its events are stored, and whom to wake."""

    portal: str
    source: WebhookSource
    inbox: Store
    wake: Callable[[], None]


@dataclass
class Runtime:
    """Everything a request handler may touch."""

    ctx: Context
    metrics: Metrics
    worker: Worker
    public_url: str  # "" = rebuild the signed URI from the request
    max_bytes: int
    inbox: Store | None = None  # the webhook path's own store handle (default: ctx.store)
    probe: StoreProbe = field(default_factory=StoreProbe)
    # -- intake limits and defences ([service] and the connector's own settings) --
    budget: EventBudget = field(default_factory=lambda: EventBudget(600))
    allow: tuple[IPNetwork, ...] = ()  # webhook source networks; () = any
    # the configured webhook sources (the connector's `webhook_source`); () = webhooks off
    sources: tuple[WebhookSource, ...] = ()
    # request log lines per kind per minute: a flood of bad requests cannot flood the log
    log_limit: LineLimiter = field(default_factory=lambda: LineLimiter(REQUEST_LINES))
    # the dashboard's Basic-auth password; "" = loopback clients only (`access.py`)
    dashboard_password: str = field(default="", repr=False)
    # with several portals: each portal's webhook source ((): `sources`, for `ctx`'s portal)
    targets: tuple[PortalWebhooks, ...] = ()
    # with several portals: each portal's context and worker, for /healthz
    lanes: tuple[tuple[Context, Worker], ...] = ()

    def source(self, name: str) -> WebhookSource | None:
        """The configured source behind an endpoint; None when its webhooks are off."""
        return next((s for s in self.sources if s.endpoint.source == name), None)

    def targets_for(self, name: str) -> list[PortalWebhooks]:
        """Every portal's configured source behind an endpoint; [] when webhooks are off."""
        if self.targets:
            return [t for t in self.targets if t.source.endpoint.source == name]
        return [PortalWebhooks(self.ctx.store.portal, s, self.inbox or self.ctx.store,
                               self.ctx.wake)
                for s in self.sources if s.endpoint.source == name]


class TooLarge(Exception):
    pass


async def read_capped(request: Request, cap: int) -> bytes:
    """The body, or TooLarge as soon as more than `cap` bytes are announced or arrive.

    ClientDisconnect when the client goes away (or the body deadline closed it) midway."""
    announced = request.headers.get("content-length", "")
    if len(announced) > 18 or (_LENGTH.fullmatch(announced) and int(announced) > cap):
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, cap: int) -> bytes:
    """`read_capped`, with its failures as refusals."""
    try:
        return await read_capped(request, cap)
    except TooLarge:
        raise WebhookRejected(413, "too_large", "body too large") from None
    except ClientDisconnect:
        raise WebhookRejected(400, "disconnected", "the client left before the body "
                              "arrived") from None


def check_source(rt: Runtime, request: Request) -> None:
    """403 unless the client's network is on the allow-list (when there is one)."""
    if rt.allow:
        client = request.scope.get("client")
        address = parse_address(str(client[0])) if client else None
        if not within(address, rt.allow):
            raise WebhookRejected(403, "not_allowed", "source network not allowed")


def charge(rt: Runtime, source: str, events: int) -> None:
    """Take `events` from this source's per-minute budget, or refuse with 429."""
    wait = rt.budget.take(source, events)
    if wait:
        rt.metrics.webhook_events.labels(source, "rate_limited").inc(events)
        raise WebhookRejected(429, "rate_limited", "too many webhook events this minute; "
                              "retry later", headers={"Retry-After": retry_after(wait)})


def signed_uri(request: Request, public_url: str) -> str:
    """The URL a sender signed: the configured public base + path + query, else the
    request's own URL (scheme and Host as received)."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url}{request.url.path}{query}"


def limited_log(rt: Runtime, level: str, event: str, **fields: Any) -> None:
    """One request's log line, unless this kind (event, source, outcome) already had its
    lines this minute; `count` then tells how many the next line stands for."""
    count = rt.log_limit.admit((event, str(fields.get("source")), str(fields.get("outcome"))))
    if count is None:
        rt.metrics.log_held.labels("leadrouter.http").inc()
        return
    getattr(log, level)(event, **fields, **({"count": count} if count > 1 else {}))


def _answer(answer: WebhookAnswer, status: int,
            headers: dict[str, str] | None = None) -> Response:
    return Response(answer.body, status_code=status, media_type=answer.media_type,
                    headers=headers)


def _reject(rt: Runtime, endpoint: WebhookEndpoint, exc: WebhookRejected,
            started: float) -> Response:
    source = endpoint.source
    rt.metrics.webhooks.labels(source, exc.outcome).inc()
    limited_log(rt, "warning", "webhook.rejected", source=source, outcome=exc.outcome,
                 http_status=exc.status, reason=str(exc),
                 duration_ms=round((time.monotonic() - started) * 1000, 1))
    if exc.status == 404:  # the same answer as a path that does not exist: nothing revealed
        return PlainTextResponse("Not Found", status_code=404)
    return _answer(endpoint.refusal(str(exc)), exc.status, exc.headers)


async def _store(rt: Runtime, source: str, inbox: Store, events: list[InboxEvent]
                 ) -> tuple[int, int]:
    now = rt.ctx.clock()
    new, dupes = await run_in_threadpool(persist, inbox, events, now)
    rt.metrics.webhook_events.labels(source, "new").inc(new)
    rt.metrics.webhook_events.labels(source, "duplicate").inc(dupes)
    return new, dupes


def _admitted(targets: list[PortalWebhooks], head: WebhookRequest) -> list[PortalWebhooks]:
    """The portals whose checks before the body pass (a path secret is per portal)."""
    admitted: list[PortalWebhooks] = []
    refusal: WebhookRejected | None = None
    for target in targets:
        try:
            target.source.admit(head)
            admitted.append(target)
        except WebhookRejected as exc:
            refusal = refusal or exc
    if not admitted:
        assert refusal is not None
        raise refusal
    return admitted


def _read(targets: list[PortalWebhooks], head: WebhookRequest, body: bytes
          ) -> list[tuple[PortalWebhooks, WebhookBatch]]:
    """Each portal's events of one request: a source takes its own account's events (HubSpot
    `portalId`) or refuses another account's message (Salesforce `OrganizationId`)."""
    read: list[tuple[PortalWebhooks, WebhookBatch]] = []
    refusal: WebhookRejected | None = None
    for target in targets:
        try:
            read.append((target, target.source.read(head, body)))
        except WebhookRejected as exc:
            if exc.outcome not in ("wrong_org", "unknown_portal"):
                raise  # a bad signature or body is bad for every portal
            refusal = refusal or exc
    if not read:
        assert refusal is not None
        raise refusal
    return read


def _request(rt: Runtime, request: Request) -> WebhookRequest:
    return WebhookRequest(
        method=request.method, uri=signed_uri(request, rt.public_url),
        headers=request.headers, path_secret=request.path_params.get("secret"),
        client_cert=bool(request.scope.get("state", {}).get(CLIENT_CERT)))


async def receive_webhook(request: Request, endpoint: WebhookEndpoint) -> Response:
    """One delivery to `endpoint`: checked, stored, answered (see the module's order)."""
    rt: Runtime = request.app.state.runtime
    name = endpoint.source
    started = time.monotonic()
    try:
        check_source(rt, request)
        targets = rt.targets_for(name)
        if not targets:
            raise WebhookRejected(404, "disabled", endpoint.disabled)
        head = _request(rt, request)
        targets = _admitted(targets, head)
        body = await read_body(request, rt.max_bytes)
        read = _read(targets, head, body)
        source, batch = read[0][0].source, read[0][1]
        if batch.invalid:
            rt.metrics.webhook_events.labels(name, "invalid_id").inc(batch.invalid)
        events = [event for _, portal_batch in read for event in portal_batch.events]
        unclaimed = len(batch.events) + batch.foreign - len(events)
        if unclaimed:  # events of an account no portal is
            rt.metrics.webhook_events.labels(name, "unknown_portal").inc(unclaimed)
            if not events:
                raise WebhookRejected(403, "unknown_portal", "no configured portal is the "
                                      "account these events are for")
        charge(rt, name, len(events))
        new = dupes = 0
        for target, portal_batch in read:
            if portal_batch.events:
                stored, again = await _store(rt, name, target.inbox, list(portal_batch.events))
                new, dupes = new + stored, dupes + again
                if stored:
                    target.wake()  # that portal's worker drains its inbox now
    except WebhookRejected as exc:
        if exc.outcome == "bad_id":  # every record id invalid: counted like dropped ones
            rt.metrics.webhook_events.labels(name, "invalid_id").inc(exc.count)
        return _reject(rt, endpoint, exc, started)
    except StoreError as exc:  # no 2xx: the sender delivers again later, nothing is lost
        rt.metrics.webhooks.labels(name, "store_error").inc()
        limited_log(rt, "error", "webhook.failed", source=name, error=str(exc),
                     http_status=503)
        return _answer(endpoint.refusal("state store unavailable"), 503)
    rt.metrics.webhooks.labels(name, "accepted").inc()
    skipped = {} if batch.ignored is None else {"skipped": batch.ignored}
    log.info("webhook.accepted", source=name, count=len(events), created=new, **skipped,
             duration_ms=round((time.monotonic() - started) * 1000, 1))
    return _answer(source.accepted(batch, new, dupes), 200)


def webhook_handler(endpoint: WebhookEndpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await receive_webhook(request, endpoint)
    return handle


async def healthz(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    if len(rt.lanes) > 1:
        ok, body = await run_in_threadpool(portals_health, rt.lanes, rt.probe)
        return JSONResponse(body, status_code=200 if ok else 503)
    ok, body = await run_in_threadpool(health, rt.ctx, rt.worker, rt.probe)
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    payload = await run_in_threadpool(rt.metrics.render)
    return Response(payload, media_type=CONTENT_TYPE)


def create_app(runtime: Runtime, trusted_proxies: tuple[IPNetwork, ...] = ()) -> Any:
    """The ASGI app: the routes inside `ForwardedHeaders` (client address and scheme from
    trusted proxies only) inside `ErrorBoundary` (nothing unexpected reaches uvicorn)."""
    endpoints = declared_endpoints()
    webhooks = [Route(path, webhook_handler(endpoint), methods=["POST"])
                for endpoint in endpoints for path in endpoint.paths]
    dashboard = Dashboard(runtime.ctx, runtime.dashboard_password,
                          portals=[ctx for ctx, _ in runtime.lanes])
    app = Starlette(routes=[
        *webhooks,
        *AckRoute(runtime).routes(),  # `/ack/{token}`: the signed token is the credential
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *dashboard.routes(),  # `/`, `/api/*`, `/static/*`, behind the dashboard's access rule
    ])
    app.state.runtime = runtime
    return ErrorBoundary(ForwardedHeaders(app, trusted_proxies), runtime.metrics,
                         runtime.log_limit)
