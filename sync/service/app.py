"""The HTTP side of `leadrouter run`: webhooks, /healthz, /metrics (Starlette on uvicorn).

Webhook handlers verify, persist to the inbox in one transaction, answer, then wake the
worker: the answer never waits for the CRM. Store access runs in the thread pool so the
event loop stays free for other deliveries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from state import Store
from state.errors import StoreError
from sync.context import Context
from sync.logs import get_logger
from sync.service.health import StoreProbe, health
from sync.service.metrics import CONTENT_TYPE, Metrics
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


class TooLarge(Exception):
    pass


async def read_capped(request: Request, cap: int) -> bytes:
    """The body, or TooLarge as soon as more than `cap` bytes are announced or arrive."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > cap:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def signed_uri(request: Request, public_url: str) -> str:
    """The URL HubSpot signed: the configured public base + path + query, else the request's
    own URL (scheme and Host as received)."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url}{request.url.path}{query}"


def _reject(rt: Runtime, source: str, exc: WebhookRejected, started: float) -> Response:
    rt.metrics.webhooks.labels(source, exc.outcome).inc()
    log.warning("webhook.rejected", source=source, outcome=exc.outcome, http_status=exc.status,
                reason=str(exc), duration_ms=round((time.monotonic() - started) * 1000, 1))
    if source == "salesforce":
        return Response(soap_fault(str(exc)), status_code=exc.status, media_type=XML)
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


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
        if not rt.hubspot_secret:
            raise WebhookRejected(404, "disabled", "HubSpot webhooks are not configured")
        body = await read_capped(request, rt.max_bytes)
        verify_hubspot(rt.hubspot_secret, request.method, signed_uri(request, rt.public_url),
                       body, request.headers.get("x-hubspot-signature-v3"),
                       request.headers.get("x-hubspot-request-timestamp"),
                       int(time.time() * 1000))
        events, ignored = parse_hubspot(body)
        new, dupes = await _store(rt, "hubspot", events)
    except TooLarge:
        return _reject(rt, "hubspot", WebhookRejected(413, "too_large", "body too large"),
                       started)
    except WebhookRejected as exc:
        return _reject(rt, "hubspot", exc, started)
    except StoreError as exc:  # HubSpot retries non-2xx: nothing is lost
        rt.metrics.webhooks.labels("hubspot", "store_error").inc()
        log.error("webhook.failed", source="hubspot", error=str(exc), http_status=503)
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
        if not rt.salesforce_org:
            raise WebhookRejected(404, "disabled", "Salesforce Outbound Messages are not "
                                  "configured")
        body = await read_capped(request, rt.max_bytes)
        events = parse_outbound(body, rt.salesforce_org)
        new, _ = await _store(rt, "salesforce", events)
    except TooLarge:
        return _reject(rt, "salesforce",
                       WebhookRejected(413, "too_large", "body too large"), started)
    except WebhookRejected as exc:
        return _reject(rt, "salesforce", exc, started)
    except StoreError as exc:  # no Ack: Salesforce retries the message later
        rt.metrics.webhooks.labels("salesforce", "store_error").inc()
        log.error("webhook.failed", source="salesforce", error=str(exc), http_status=503)
        return Response(soap_fault("state store unavailable"), status_code=503,
                        media_type=XML)
    rt.metrics.webhooks.labels("salesforce", "accepted").inc()
    if new:
        rt.ctx.wake()  # the worker drains the inbox now, not at the next poll
    log.info("webhook.accepted", source="salesforce", count=len(events), created=new,
             duration_ms=round((time.monotonic() - started) * 1000, 1))
    return Response(ack_envelope(), media_type=XML)


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


def create_app(runtime: Runtime) -> Starlette:
    app = Starlette(routes=[
        Route("/", index, methods=["GET"]),
        Route("/webhooks/hubspot", hubspot_webhook, methods=["POST"]),
        Route("/webhooks/salesforce", salesforce_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])
    app.state.runtime = runtime
    return app
