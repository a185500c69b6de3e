"""Write while polling: on a backlog, each landed page of leads is routed and written while
the poll's prefetch thread (sync/ingest.py `Prefetch`) fetches the next page.

HubSpot counts searches (the poll) and other calls (owner and task writes) in separate
budgets: run one after the other, a backlog costs the sum of both floors; run together,
only the larger one. The store work stays on this one thread (the prefetch thread only
calls the CRM), so SQLite never sees two writers of ours. A poll of a single page (the
steady state) changes nothing: the pipeline's own route and apply steps follow as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync.apply import apply_pending
from sync.context import Context
from sync.route import route_waiting

Report = Callable[[str, Any], None]  # (step name "route" | "apply", its figures)


class Overlap:
    """`poll(ctx, on_page=Overlap(ctx, report).page_landed)`: after each page's commit,
    route what landed and perform the writes due, reporting the route and apply figures
    through `report`. A CRM error of a write is recorded on its outbox rows by `apply`
    (and met again by the pipeline's apply step); an auth error ends the poll step."""

    def __init__(self, ctx: Context, report: Report,
                 stopping: Callable[[], bool] | None = None) -> None:
        self.ctx = ctx
        self._report = report
        self._stopping = stopping or (lambda: False)
        self._pages = 0

    def page_landed(self, more: bool) -> None:
        self._pages += 1
        if self._pages == 1 and not more:
            return  # one page: the pipeline's own steps route and write it
        self._report("route", route_waiting(self.ctx))
        while not self._stopping():
            figures = apply_pending(self.ctx, rounds=1)
            if figures.progressed or figures.deferred:
                self._report("apply", figures)
            if not figures.progressed:
                return
