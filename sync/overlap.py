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

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from typing import Any

from sync.apply import ApplyResult
from sync.apply.owners import OwnerFlight, land_owners, send_owners
from sync.apply.tasks import TaskFlight, land_tasks, send_tasks
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
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-writes") as pool:
            flights: deque[OwnerFlight | TaskFlight] = deque()
            try:
                self._write(pool, flights)
            finally:  # an error: the calls still in flight end, then their claims
                for flight in flights:
                    if isinstance(flight, TaskFlight):
                        wait([flight.outcome])
                        flight.claim.stop()

    def _write(self, pool: Executor, flights: deque[OwnerFlight | TaskFlight]) -> None:
        """Apply's work with one call always ahead: while this thread records a batch's
        outcome, the pool makes the next call. Owner batches are sent first; each landed
        owner batch sends the tasks it made ready."""
        ctx = self.ctx
        # until a claim finds none: the page's owner writes were all queued by its routing,
        # before this began (a retry coming due meanwhile waits for the apply step)
        owners_due = True
        while True:
            figures = ApplyResult()
            going = not self._stopping()
            while going and owners_due and len(flights) < 2:  # the next call goes out first
                owners = send_owners(ctx, pool)
                if owners is None:
                    owners_due = False
                    break
                flights.append(owners)
            if not flights:  # nothing in flight: tasks whose owners were written before
                tasks = send_tasks(ctx, figures, pool) if going else None
                if tasks is None:
                    self._figures(figures)
                    return
                flights.append(tasks)
            flight = flights.popleft()
            if isinstance(flight, OwnerFlight):
                land_owners(ctx, flight, figures)
                tasks = send_tasks(ctx, figures, pool) if going else None
                if tasks is not None:
                    flights.append(tasks)
            else:
                land_tasks(ctx, flight, figures)
            self._figures(figures)

    def _figures(self, figures: ApplyResult) -> None:
        if figures.progressed or figures.deferred:
            self._report("apply", figures)
