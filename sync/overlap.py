"""Write while polling: on a backlog, each landed page of leads is routed and written while
the poll's prefetch thread (sync/ingest.py `Prefetch`) fetches the next page.

HubSpot counts searches (the poll) and other calls (owner and task writes) in separate
budgets: run one after the other, a backlog costs the sum of both floors; run together,
only the larger one. Within a page, the next owner batch's call runs in a thread of its
own while this one records the last batch and makes the task calls, and a page's last
task calls fly while the next page is recorded and routed. The store work stays
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
    """`poll(ctx, on_page=overlap.page_landed)`: after each page's commit, route what
    landed and perform the writes due, reporting the route and apply figures through
    `report`; then `finish()` when the poll returns, and `abandon()` when the poll or
    `finish()` raises. A CRM error of a write is recorded on its outbox rows by `apply`
    (and met again by the pipeline's apply step); an auth error ends the poll step.

    A page's last task calls are left in flight while the next page is recorded and
    routed, and land with that page's writes: the first owner call of a page can go out
    only once the page is routed, and the tasks landing meanwhile hide its wait."""

    def __init__(self, ctx: Context, report: Report,
                 stopping: Callable[[], bool] | None = None) -> None:
        self.ctx = ctx
        self._report = report
        self._stopping = stopping or (lambda: False)
        self._pages = 0
        self._pool: ThreadPoolExecutor | None = None
        self._flights: deque[OwnerFlight | TaskFlight] = deque()

    def page_landed(self, more: bool) -> None:
        self._pages += 1
        if self._pages == 1 and not more:
            return  # one page: the pipeline's own steps route and write it
        self._report("route", route_waiting(self.ctx))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-writes")
        self._write(self._pool, self._flights, last=not more)

    def finish(self) -> None:
        """The poll is over: land the calls still in flight, then let the thread go."""
        if self._pool is None:
            return
        self._write(self._pool, self._flights, last=True)
        self._close()

    def abandon(self) -> None:
        """An error: the calls still in flight end, then their claims (their rows come due
        again when the claims' leases run out)."""
        for flight in self._flights:
            if isinstance(flight, TaskFlight):
                wait([flight.outcome])
                flight.claim.stop()
        self._flights.clear()
        self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _write(self, pool: Executor, flights: deque[OwnerFlight | TaskFlight], *,
               last: bool) -> None:
        """Apply's work with one call always ahead: while this thread records a batch's
        outcome, the pool makes the next call. Owner batches are sent first; each landed
        owner batch sends the tasks it made ready. Unless this is the `last` page, the
        task calls left once the page's owners are written stay in flight."""
        ctx = self.ctx
        # until a claim finds none: the page's owner writes were all queued by its routing,
        # before this began (a retry coming due meanwhile waits for the apply step)
        owners_due = True
        while True:
            figures = ApplyResult()
            going = not self._stopping()
            # the next owner call goes out before one lands (tasks carried over from the
            # last page do not hold it back)
            while going and owners_due and _owner_flights(flights) < 2:
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
            if not last and going and not owners_due and not _owner_flights(flights):
                return  # the page's task calls land while the next page is routed
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


def _owner_flights(flights: deque[OwnerFlight | TaskFlight]) -> int:
    return sum(1 for flight in flights if isinstance(flight, OwnerFlight))
