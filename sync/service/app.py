"""The HTTP side of `leadrouter run`: webhooks, /healthz, /metrics (Starlette on uvicorn).

Webhook handlers verify, persist to the inbox in one transaction, answer, then wake the
worker: the answer never waits for the CRM. Store access runs in the thread pool so the
event loop stays free for other deliveries.

Before anything is stored, in this order (cheapest first, nothing read before it is needed):
the source network (allow-list), the client certificate (Salesforce, when required), the
secret path segment (Salesforce, when set), the body size, the payload (signature, shape,
record ids, at most 100 events), then the per-minute budget of stored events. Every
refusal is a 4xx with one log line; an exception nobody expected is one line and a 500
(`boundary.py`).
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from state import Store
from state.errors import StoreError
from sync.config.models import IPNetwork
from sync.context import Context
from sync.logs import get_logger
from sync.service.boundary import ErrorBoundary
from sync.service.health import StoreProbe, health
from sync.service.intake import EventBudget, ForwardedHeaders, parse_address, retry_after, within
from sync.service.metrics import CONTENT_TYPE, Metrics
from sync.service.protocol import CLIENT_CERT
from sync.service.serverlog import REQUEST_LINES, LineLimiter
from sync.service.webhooks import (
    InboxEvent,
    WebhookRejected,
    ack_envelope,
    parse_hubspot,
    parse_outbound,
    persist,
    soap_fault,
    verify_hubspot,
)
from sync.service.worker import Worker

log = get_logger("leadrouter.http")
XML = "text/xml; charset=utf-8"
_LENGTH = re.compile(r"[0-9]{1,18}")  # explicit range: ASCII digits only


@dataclass
class Runtime:
    """Everything a request handler may touch."""

    ctx: Context
    metrics: Metrics
    worker: Worker
    hubspot_secret: str  # "" = HubSpot webhooks off
    salesforce_org: str  # "" = Salesforce Outbound Messages off
    public_url: str  # "" = rebuild the signed URI from the request
    max_bytes: int
    inbox: Store | None = None  # the webhook path's own store handle (default: ctx.store)
    probe: StoreProbe = field(default_factory=StoreProbe)
    # -- intake limits and defences ([service] and [crm.salesforce] in the config) --
    budget: EventBudget = field(default_factory=lambda: EventBudget(600))
    allow: tuple[IPNetwork, ...] = ()  # webhook source networks; () = any
    salesforce_path_secret: str = ""  # "" = the plain path
    salesforce_client_cert: bool = False  # a verified client certificate is required
    # request log lines per kind per minute: a flood of bad requests cannot flood the log
    log_limit: LineLimiter = field(default_factory=lambda: LineLimiter(REQUEST_LINES))


def eligibility_properties(rt: Runtime) -> frozenset[str]:
    """HubSpot properties whose change can make a skipped contact eligible."""
    settings = rt.ctx.config.hubspot
    filters = frozenset(settings.filters) if settings is not None else frozenset()
    return filters | {"hubspot_owner_id"}


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
    """The URL HubSpot signed: the configured public base + path + query, else the request's
    own URL (scheme and Host as received)."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url}{request.url.path}{query}"


def _limited_log(rt: Runtime, level: str, event: str, **fields: Any) -> None:
    """One request's log line, unless this kind (event, source, outcome) already had its
    lines this minute; `count` then tells how many the next line stands for."""
    count = rt.log_limit.admit((event, str(fields.get("source")), str(fields.get("outcome"))))
    if count is None:
        rt.metrics.log_held.labels("leadrouter.http").inc()
        return
    getattr(log, level)(event, **fields, **({"count": count} if count > 1 else {}))


def _reject(rt: Runtime, source: str, exc: WebhookRejected, started: float) -> Response:
    rt.metrics.webhooks.labels(source, exc.outcome).inc()
    _limited_log(rt, "warning", "webhook.rejected", source=source, outcome=exc.outcome,
                 http_status=exc.status, reason=str(exc),
                 duration_ms=round((time.monotonic() - started) * 1000, 1))
    if exc.status == 404:  # the same answer as a path that does not exist: nothing revealed
        return PlainTextResponse("Not Found", status_code=404)
    if source == "salesforce":
        return Response(soap_fault(str(exc)), status_code=exc.status, media_type=XML,
                        headers=exc.headers)
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)


async def _store(rt: Runtime, source: str, events: list[InboxEvent]) -> tuple[int, int]:
    now = rt.ctx.clock()
    new, dupes = await run_in_threadpool(persist, rt.inbox or rt.ctx.store, events, now)
    rt.metrics.webhook_events.labels(source, "new").inc(new)
    rt.metrics.webhook_events.labels(source, "duplicate").inc(dupes)
    return new, dupes


async def hubspot_webhook(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    started = time.monotonic()
    try:
        check_source(rt, request)
        if not rt.hubspot_secret:
            raise WebhookRejected(404, "disabled", "HubSpot webhooks are not configured")
        body = await read_body(request, rt.max_bytes)
        verify_hubspot(rt.hubspot_secret, request.method, signed_uri(request, rt.public_url),
                       body, request.headers.get("x-hubspot-signature-v3"),
                       request.headers.get("x-hubspot-request-timestamp"),
                       int(time.time() * 1000))
        events, ignored = parse_hubspot(body, eligibility_properties(rt))
        charge(rt, "hubspot", len(events))
        new, dupes = await _store(rt, "hubspot", events)
    except WebhookRejected as exc:
        return _reject(rt, "hubspot", exc, started)
    except StoreError as exc:  # HubSpot retries non-2xx: nothing is lost
        rt.metrics.webhooks.labels("hubspot", "store_error").inc()
        _limited_log(rt, "error", "webhook.failed", source="hubspot", error=str(exc),
                     http_status=503)
        return JSONResponse({"error": "state store unavailable"}, status_code=503)
    rt.metrics.webhooks.labels("hubspot", "accepted").inc()
    if new:
        rt.ctx.wake()  # the worker drains the inbox now, not at the next poll
    log.info("webhook.accepted", source="hubspot", count=len(events), created=new,
             skipped=ignored, duration_ms=round((time.monotonic() - started) * 1000, 1))
    return JSONResponse({"stored": new, "duplicates": dupes, "ignored": ignored})


async def salesforce_webhook(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    started = time.monotonic()
    try:
        check_source(rt, request)
        if not rt.salesforce_org:
            raise WebhookRejected(404, "disabled", "Salesforce Outbound Messages are not "
                                  "configured")
        if rt.salesforce_client_cert and not request.scope.get("state", {}).get(CLIENT_CERT):
            raise WebhookRejected(403, "no_client_cert", "a client certificate from the "
                                  "configured CA is required")
        check_path_secret(rt, request.path_params.get("secret"))
        body = await read_body(request, rt.max_bytes)
        events, invalid = parse_outbound(body, rt.salesforce_org)
        if invalid:
            rt.metrics.webhook_events.labels("salesforce", "invalid_id").inc(invalid)
        charge(rt, "salesforce", len(events))
        new, _ = await _store(rt, "salesforce", events)
    except WebhookRejected as exc:
        if exc.outcome == "bad_id":
            rt.metrics.webhook_events.labels("salesforce", "invalid_id").inc(exc.count)
        return _reject(rt, "salesforce", exc, started)
    except StoreError as exc:  # no Ack: Salesforce retries the message later
        rt.metrics.webhooks.labels("salesforce", "store_error").inc()
        _limited_log(rt, "error", "webhook.failed", source="salesforce", error=str(exc),
                     http_status=503)
        return Response(soap_fault("state store unavailable"), status_code=503,
                        media_type=XML)
    rt.metrics.webhooks.labels("salesforce", "accepted").inc()
    if new:
        rt.ctx.wake()  # the worker drains the inbox now, not at the next poll
    log.info("webhook.accepted", source="salesforce", count=len(events), created=new,
             duration_ms=round((time.monotonic() - started) * 1000, 1))
    return Response(ack_envelope(), media_type=XML)


def check_path_secret(rt: Runtime, given: str | None) -> None:
    """With a path secret configured, only `/webhooks/salesforce/{secret}` is served (the
    plain path answers 404); without one, only the plain path."""
    expected = rt.salesforce_path_secret
    if not expected and given is None:
        return
    if expected and given is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        return
    raise WebhookRejected(404, "bad_path", "no such endpoint")


async def healthz(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    ok, body = await run_in_threadpool(health, rt.ctx, rt.worker, rt.probe)
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    payload = await run_in_threadpool(rt.metrics.render)
    return Response(payload, media_type=CONTENT_TYPE)


async def index(request: Request) -> Response:
    return PlainTextResponse("leadrouter: POST /webhooks/hubspot, POST /webhooks/salesforce, "
                             "GET /healthz, GET /metrics\n")


def create_app(runtime: Runtime, trusted_proxies: tuple[IPNetwork, ...] = ()) -> Any:
    """The ASGI app: the routes inside `ForwardedHeaders` (client address and scheme from
    trusted proxies only) inside `ErrorBoundary` (nothing unexpected reaches uvicorn)."""
    app = Starlette(routes=[
        Route("/", index, methods=["GET"]),
        Route("/webhooks/hubspot", hubspot_webhook, methods=["POST"]),
        Route("/webhooks/salesforce", salesforce_webhook, methods=["POST"]),
        Route("/webhooks/salesforce/{secret}", salesforce_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])
    app.state.runtime = runtime
    return ErrorBoundary(ForwardedHeaders(app, trusted_proxies), runtime.metrics,
                         runtime.log_limit)
