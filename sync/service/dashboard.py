"""The routing dashboard: `GET /`, `GET /api/report` and the assets under `/static/`.

The page is rendered on the server (jinja2) from the same report `report --json` prints;
its charts are drawn in the browser by the vendored uPlot (`static/vendor/`, MIT) from
data embedded in the page, so it needs nothing from the internet. Every 30 s the page
fetches itself again and swaps its content (no reload, one renderer for first paint and
refresh). Access: `access.refusal` guards every route here (CONTRACTS Part 2).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from state.errors import StoreError
from sync.context import Context
from sync.logs import get_logger
from sync.report import build_report, parse_when
from sync.service.access import refusal
from sync.service.assets import Assets
from sync.service.views import charts, page_view

log = get_logger("leadrouter.http")
TEMPLATES = Path(__file__).resolve().parent / "templates"
WINDOWS = {"24h": "24 h", "7d": "7 d", "30d": "30 d"}
DEFAULT_WINDOW = "24h"
REFRESH_SECONDS = 30
DEFAULT_SINCE = "7d"  # /api/report, like `leadrouter report`
# the page runs only its own script and styles; record links open the CRM in a new tab
# without telling it where they came from (no-referrer)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[Request], Awaitable[Response]]


def _json_for_html(value: Any) -> Markup:
    """JSON safe inside a <script type="application/json"> element."""
    text = json.dumps(value, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)


class Dashboard:
    """The report of a running service, as JSON and as the page."""

    def __init__(self, ctx: Context, password: str, assets: Assets | None = None, *,
                 portals: Sequence[Context] = ()) -> None:
        self.ctx = ctx
        # with several portals, each one's report by `?portal=ID` (the first by default);
        # a page never mixes two portals' figures
        self.portals = {each.store.portal: each for each in (portals or (ctx,))}
        self.password = password
        self.assets = assets or Assets()
        self.templates = Environment(loader=FileSystemLoader(TEMPLATES),
                                     autoescape=select_autoescape(["html"]),
                                     undefined=StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
        self.templates.filters["json_for_html"] = _json_for_html

    def report(self, since: datetime, until: datetime, now: datetime,
               ctx: Context | None = None) -> dict[str, Any]:
        ctx = ctx or self.ctx
        return build_report(ctx.store, ctx.config, since=since, until=until,
                            now=now, link=ctx.connector.record_link)

    def _portal(self, request: Request) -> Context | None:
        """The portal `?portal=` names (the first when absent); None for an unknown one."""
        name = request.query_params.get("portal")
        return self.ctx if name is None else self.portals.get(name)

    def guarded(self, handler: Handler) -> Handler:
        """`handler` behind the access rule; a store that cannot answer is a 503 (the
        page's refresh keeps the figures it has and says they are stale)."""
        async def guard(request: Request) -> Response:
            refused = refusal(request, self.password)
            if refused is not None:
                return refused
            try:
                return await handler(request)
            except StoreError as exc:
                log.warning("dashboard.store_error", path=request.url.path, error=str(exc))
                return JSONResponse({"error": "state store unavailable"}, status_code=503,
                                    headers={"Cache-Control": "no-store"})
        return guard

    async def api_report(self, request: Request) -> Response:
        ctx = self._portal(request)
        if ctx is None:
            return _no_such_portal(self.portals)
        now = ctx.clock()
        try:
            since = parse_when(request.query_params.get("since") or DEFAULT_SINCE, now)
            until_text = request.query_params.get("until")
            until = parse_when(until_text, now) if until_text else now
        except ValueError as exc:
            return _bad_request(f"since/until: {exc}")
        if since >= until:
            return _bad_request("since must be before until")
        report = await run_in_threadpool(self.report, since, until, now, ctx)
        return JSONResponse(report, headers={"Cache-Control": "no-store"})

    async def page(self, request: Request) -> Response:
        window = request.query_params.get("window") or DEFAULT_WINDOW
        if window not in WINDOWS:
            return PlainTextResponse(f"window must be one of {', '.join(WINDOWS)}\n",
                                     status_code=400, headers={"Cache-Control": "no-store"})
        ctx = self._portal(request)
        if ctx is None:
            return _no_such_portal(self.portals)
        now = ctx.clock()
        report = await run_in_threadpool(self.report, parse_when(window, now), now, now, ctx)
        portal = ctx.store.portal
        html = self.templates.get_template("dashboard.html").render(
            view=page_view(report), charts=charts(report), report=report, window=window,
            windows=WINDOWS, refresh=REFRESH_SECONDS, asset=self.assets.url,
            generated=report.get("generated_at", now.isoformat()),
            portals=list(self.portals) if len(self.portals) > 1 else [], portal=portal)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def static(self, request: Request) -> Response:
        return self.assets.response(request)

    async def no_such_api(self, request: Request) -> Response:
        return JSONResponse({"error": "no such API path"}, status_code=404)

    def routes(self) -> list[BaseRoute]:
        """`/`, `/api/report`, `/static/<version>/<name>`; any other `/api/...` or
        `/static/...` is a 404, but only after the access check."""
        return [
            Route("/", self.guarded(self.page), methods=["GET"]),
            Route("/api/report", self.guarded(self.api_report), methods=["GET"]),
            Route("/api/{rest:path}", self.guarded(self.no_such_api)),
            Route("/static/{rest:path}", self.guarded(self.static), methods=["GET"]),
        ]


def _no_such_portal(portals: Mapping[str, Context]) -> Response:
    return JSONResponse({"error": "no such portal", "portals": sorted(portals)},
                        status_code=404, headers={"Cache-Control": "no-store"})


def _bad_request(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400,
                        headers={"Cache-Control": "no-store"})
