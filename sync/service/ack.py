"""`GET /ack/{token}`: the acknowledgement link of an on-call page (CONTRACTS Part 3).

The token is the credential (signed, bound to one lead, assignment and coordinator, 24 h),
so the route sits outside the dashboard's access rule. A forged, altered or expired token is
a 403; a genuine one marks the page acknowledged (`sync.paging.acknowledge`) and answers a
small page meant for a phone. Pages show the CRM id and the record link, nothing the lead
carried; they are never cached and send no referrer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from sync.ack_links import BadToken
from sync.context import Context
from sync.paging import Ack, acknowledge
from sync.service.dashboard import TEMPLATES

if TYPE_CHECKING:
    from sync.service.app import Runtime

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
# outcome -> (HTTP status, headline, line below it)
ANSWERS = {
    Ack.ACKNOWLEDGED: (200, "Acknowledged", "Lead {crm_id} is yours. Nobody else will be "
                       "paged for it."),
    Ack.ALREADY: (200, "Already acknowledged", "Lead {crm_id} is yours; this page was "
                  "acknowledged before."),
    Ack.PASSED_ON: (409, "No longer yours", "Lead {crm_id} has moved to someone else (the "
                    "page timed out, or its owner was changed). Nothing to do."),
    Ack.UNKNOWN: (404, "Unknown lead", "This service does not know lead {crm_id}."),
}
REFUSED = (403, "Link not valid", "This acknowledgement link is not valid or has expired "
           "(links last 24 hours). Open the lead in the CRM instead.")


class AckRoute:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.templates = Environment(loader=FileSystemLoader(TEMPLATES),
                                     autoescape=select_autoescape(["html"]),
                                     undefined=StrictUndefined)

    @property
    def ctx(self) -> Context:
        return self.runtime.ctx

    def portal(self, portal: str) -> Context | None:
        """The context of the portal a link names (several portals share the listener and
        `[service]`, so one link secret)."""
        contexts = [ctx for ctx, _ in self.runtime.lanes] or [self.runtime.ctx]
        return next((ctx for ctx in contexts if ctx.store.portal == portal), None)

    def _page(self, answer: tuple[int, str, str], crm_id: str | None = None,
              ctx: Context | None = None) -> Response:
        """`ctx`: the lead's portal, for the record link."""
        status, title, line = answer
        html = self.templates.get_template("ack.html").render(
            title=title, line=line.format(crm_id=crm_id), ok=status == 200,
            link=ctx.connector.record_link(crm_id) if ctx and crm_id and status < 404 else None)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def ack(self, request: Request) -> Response:
        from sync.service.app import limited_log

        links, now = self.ctx.links, self.ctx.clock()
        if links is None:
            return self._page((404, "Not available", "Acknowledgement links are not set up "
                                    "on this service."))
        try:
            claim = links.verify(request.path_params["token"], now)
        except BadToken as exc:
            limited_log(self.runtime, "warning", "ack.refused", outcome=exc.why)
            return self._page(REFUSED)
        ctx = self.portal(claim.portal)
        if ctx is None or claim.crm != ctx.crm:
            limited_log(self.runtime, "warning", "ack.refused", outcome="other_portal")
            return self._page(REFUSED)
        outcome: Ack = await run_in_threadpool(acknowledge, ctx, claim, now)
        limited_log(self.runtime, "info", "ack.opened", crm=claim.crm, lead=claim.crm_id,
                    coordinator=claim.coordinator, assignment=claim.assignment,
                    outcome=outcome.value)
        return self._page(ANSWERS[outcome], claim.crm_id, ctx)

    def routes(self) -> list[BaseRoute]:
        return [Route("/ack/{token}", self.ack, methods=["GET"])]
