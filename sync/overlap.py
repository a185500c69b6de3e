"""Write while polling: on a backlog, each landed page of leads is routed and written while
the poll's prefetch thread (sync/ingest.py `Prefetch`) fetches the next page.

HubSpot counts searches (the poll) and other calls (owner and task writes) in separate
budgets: run one after the other, a backlog costs the sum of both floors; run together,
only the larger one. Within a page, the next owner batch's call runs in a thread of its
own while this one records the last batch and makes the task calls. The store work stays
on this one thread (the prefetch and owner-write threads only call the CRM), so SQLite
never sees two writers of ours. A poll of a single page (the steady state) changes
nothing: the pipeline's own route and apply steps follow as before.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sync.apply import ApplyResult, apply_tasks
from sync.apply.owners import land_owners, send_owners
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
        # apply's rounds, with the next owner batch's call in flight while this thread
        # records the one before and makes the tasks' calls (owner writes are idempotent;
        # task creates, which are not, stay on this thread)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="owner-writes") as pool:
            flight = send_owners(self.ctx, pool)
            while True:
                figures = ApplyResult()
                if flight is not None:
                    following = None if self._stopping() else send_owners(self.ctx, pool)
                    land_owners(self.ctx, flight, figures)
                    flight = following
                apply_tasks(self.ctx, figures)
                if figures.progressed or figures.deferred:
                    self._report("apply", figures)
                if flight is None and (not figures.progressed or self._stopping()):
                    return
