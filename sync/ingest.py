"""Ingest: poll the CRM with a durable cursor, and turn webhook hints into lead rows.

Each lead is recorded in its own savepoint: a record that cannot be stored is set aside (kept
by CRM id with the reason, visible in `explain`) and never holds back its page, its cursor or
the webhook events that came with it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import CrmLead, PollPage
from connectors.webhooks import ACTIVITY_HINT
from state import LeadStatus, StoreUnavailable, UnitOfWork
from sync.batches import all_at_once
from sync.context import Context
from sync.lifecycle import (
    Arrival,
    Change,
    Fact,
    LeadEvent,
    arrive,
    arrive_many,
    transition,
    transition_many,
)
from sync.logs import get_logger
from sync.routing_input import routing_attributes
from sync.sla_scan import WATCHED as CLOCK_WATCHED
from sync.sla_scan import SlaResult, check_leads
from sync.tally import add_up

log = get_logger("leadrouter.ingest")
POLL_PAGE = 500  # leads per `poll` call of a connector that cannot stream its pages
# processed webhook events are kept this long so redeliveries are still recognised (the
# CRMs we connect stop retrying a delivery within 24 hours)
INBOX_RETENTION = timedelta(hours=48)
# leads that were left aside (not eligible, or unrecordable) and may be routed once they change
REEVALUATED_STATUSES = frozenset({LeadStatus.SKIPPED.value, LeadStatus.SET_ASIDE.value})
# hints worth a CRM read: unknown records (SEEN stands for them here) and left-aside leads
_WORTH_A_LOOK = REEVALUATED_STATUSES | {LeadStatus.SEEN.value}


@dataclass
class IngestResult:
    seen: int = 0
    new: int = 0
    skipped: int = 0
    from_webhooks: int = 0
    set_aside: int = 0
    reevaluated: int = 0
    outside_window: int = 0  # webhook hints for records polling would not route


def cursor_name(ctx: Context) -> str:
    return f"{ctx.crm}:poll"


def window_start(ctx: Context, now: datetime) -> datetime:
    """The oldest creation time a lead may have to be routed (the `backfill` window)."""
    return now - ctx.config.service.backfill


def _record(uow: UnitOfWork, ctx: Context, leads: Sequence[CrmLead],
            result: IngestResult) -> None:
    """Record a page together (`_record_all`), or, when that fails, lead by lead."""
    now = ctx.clock()
    if _record_all(uow, ctx, leads, now, result):
        return
    for lead in leads:
        result.seen += 1
        try:
            with uow.savepoint():
                _record_one(uow, ctx, lead, now, result)
        except StoreUnavailable:
            raise  # not this lead's fault: the whole unit is retried
        except Exception as exc:
            _set_aside(uow, ctx, lead, now, f"could not be recorded ({type(exc).__name__})",
                       result)


def _record_all(uow: UnitOfWork, ctx: Context, leads: Sequence[CrmLead], now: datetime,
                result: IngestResult) -> bool:
    """Record a page in a few statements, in a savepoint: False (and nothing recorded)
    when one of its leads cannot be, for `_record` to set that one aside alone."""
    ids = [lead.crm_id for lead in leads]
    if not leads or len(set(ids)) != len(ids):
        return False
    figures = IngestResult(seen=len(leads))

    def record_page() -> None:
        attributes = {lead.crm_id: routing_attributes(lead.attributes, ctx.config)
                      for lead in leads}
        new = arrive_many(uow, ctx, [Arrival(lead.crm_id, lead.created_at,
                                             attributes[lead.crm_id], _arrival_facts(lead))
                                     for lead in leads], now)
        skipped = [lead for lead in leads if lead.crm_id in new and not lead.eligible]
        transition_many(uow, ctx, [Change(lead.crm_id, LeadEvent.SKIPPED, facts=_NOT_ELIGIBLE,
                                          fields={"crm_owner_id": lead.owner_id})
                                   for lead in skipped], now)
        figures.new, figures.skipped = len(new), len(skipped)
        known = [lead for lead in leads if lead.crm_id not in new and lead.eligible]
        statuses = uow.leads.statuses(ctx.crm, [lead.crm_id for lead in known])
        for lead in known:
            if statuses.get(lead.crm_id) in REEVALUATED_STATUSES:
                _reevaluate(uow, ctx, lead, attributes[lead.crm_id], now, figures)

    if not all_at_once(uow, record_page, what="ingest.page_recorded_one_by_one", crm=ctx.crm,
                       count=len(leads)):
        return False
    add_up(result, figures)
    return True


_NOT_ELIGIBLE = {"why": "owned by a person or outside the configured filters"}


def _arrival_facts(lead: CrmLead) -> dict[str, Fact]:
    return {"created_at": lead.created_at.isoformat(), "crm_owner": lead.owner_id,
            "eligible": lead.eligible}


def _record_one(uow: UnitOfWork, ctx: Context, lead: CrmLead, now: datetime,
                result: IngestResult) -> None:
    attributes = routing_attributes(lead.attributes, ctx.config)
    arrived = arrive(uow, ctx, lead.crm_id, lead.created_at, attributes, now,
                     facts=_arrival_facts(lead))
    if arrived is None:
        _reevaluate(uow, ctx, lead, attributes, now, result)
        return
    result.new += 1
    if not lead.eligible:
        result.skipped += 1
        transition(uow, ctx, lead.crm_id, LeadEvent.SKIPPED, now, crm_owner_id=lead.owner_id,
                   facts=_NOT_ELIGIBLE)


def _reevaluate(uow: UnitOfWork, ctx: Context, lead: CrmLead, attributes: dict[str, str],
                now: datetime, result: IngestResult) -> None:
    """A known lead seen again: one left aside is routed once it is eligible, while it is
    still inside the backfill window. A lead a person owns is never eligible."""
    if not lead.eligible or lead.created_at < window_start(ctx, now):
        return
    row = uow.leads.get(ctx.crm, lead.crm_id)
    if row is None or row.status not in REEVALUATED_STATUSES:
        return
    transition(uow, ctx, lead.crm_id, LeadEvent.REEVALUATED, now, attributes=attributes,
               crm_owner_id=lead.owner_id,
               facts={"was": row.status, "why": "eligible now"})
    result.reevaluated += 1


def _set_aside(uow: UnitOfWork, ctx: Context, lead: CrmLead, now: datetime, reason: str,
               result: IngestResult) -> None:
    """Keep the lead by CRM id (no attributes) with why it could not be recorded."""
    result.set_aside += 1
    facts = {"why": reason}
    try:
        with uow.savepoint():
            if arrive(uow, ctx, lead.crm_id, lead.created_at, {}, now,
                      event=LeadEvent.SET_ASIDE, facts=facts,
                      crm_owner_id=lead.owner_id) is None:
                transition(uow, ctx, lead.crm_id, LeadEvent.UNREADABLE, now, facts=facts)
    except StoreUnavailable:
        raise
    except Exception as exc:  # not even its id can be stored (e.g. an id the CRM never makes)
        log.error("lead.set_aside_failed", crm=ctx.crm, reason=reason,
                  error_type=type(exc).__name__)


def _pages(ctx: Context, cursor: str | None, since: datetime) -> Iterator[PollPage]:
    """The connector's pages: streamed (`poll_pages`) when it can, else `poll` again from
    each page's cursor."""
    stream = getattr(ctx.connector, "poll_pages", None)
    if callable(stream):
        yield from stream(cursor, since)
        return
    while True:
        page = ctx.connector.poll(cursor, since, POLL_PAGE)
        yield page
        if not page.more:
            return
        cursor = page.cursor


def poll(ctx: Context, *, on_page: Callable[[bool], None] | None = None,
         stopping: Callable[[], bool] | None = None) -> IngestResult:
    """Read every new record, page by page (no cap: memory holds a few pages); each page
    and the cursor commit together. The next page is fetched while this one is recorded
    (`Prefetch`), and `on_page(more)` runs after each commit (a caller routes and writes
    what landed meanwhile). `stopping()` ends the poll between pages; the cursor says where
    the next one resumes."""
    result = IngestResult()
    since = window_start(ctx, ctx.clock())
    with ctx.store.unit_of_work(read_only=True) as uow:
        cursor = uow.cursors.get(cursor_name(ctx))
    with Prefetch(_pages(ctx, cursor, since)) as pages:
        for page in pages:
            with ctx.store.unit_of_work() as uow:
                _record(uow, ctx, page.leads, result)
                if page.cursor != cursor:  # connectors never move it backwards
                    uow.cursors.set(cursor_name(ctx), page.cursor, now=ctx.clock())
                    cursor = page.cursor
                uow.commit()
            if on_page is not None:
                on_page(page.more)
            if stopping is not None and stopping():
                break
    if result.new or result.set_aside or result.reevaluated:
        log.info("ingest.polled", count=result.seen, routed=result.new - result.skipped,
                 skipped=result.skipped, failed=result.set_aside or None,
                 reevaluated=result.reevaluated or None)
    return result


class Prefetch:
    """Pull pages from `pages` in a thread, at most `depth` ahead, so the CRM call for the
    next page runs while this one is stored. One page ahead is enough to hide the call, and
    a page kept waiting longer would age the owners it read past `owner_read_max_age`. The
    connector's errors come out of the iteration in order; leaving the block early stops
    the thread after its call in flight."""

    def __init__(self, pages: Iterator[PollPage], depth: int = 1) -> None:
        self._pages = pages
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pull, name="poll-prefetch", daemon=True)

    def __enter__(self) -> Iterator[PollPage]:
        self._thread.start()
        return self._iterate()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a pending put, then let it finish
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _iterate(self) -> Iterator[PollPage]:
        while True:
            kind, item = self._queue.get()
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _pull(self) -> None:
        try:
            for page in self._pages:
                if not self._put(("page", page)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(("error", exc))


def drain_inbox(ctx: Context, *, limit: int = 500,
                on_attempts: Callable[[SlaResult], None] | None = None) -> IngestResult:
    """Webhook events are hints: fetch those records from the CRM and record the ones
    polling would route too (created inside the backfill window); and check the leads whose
    response clock runs for a contact attempt now (`sla_scan.check_leads`, its figures to
    `on_attempts`) rather than at the next SLA scan. An activity hint never brings a lead:
    for a contact that is no watched lead it is dropped unread."""
    result = IngestResult()
    now = ctx.clock()
    with ctx.store.unit_of_work(read_only=True) as uow:
        hints = uow.inbox.unprocessed(limit, source=ctx.crm)
        ids = sorted({hint.crm_id for hint in hints})
        known = uow.leads.statuses(ctx.crm, ids) if ids else {}
    if hints:
        # a lead already on its way needs no CRM call: a replayed or forged hint costs nothing
        records = sorted({h.crm_id for h in hints if h.event_type != ACTIVITY_HINT})
        to_fetch = [i for i in records if known.get(i, LeadStatus.SEEN.value) in _WORTH_A_LOOK]
        # only activity hints ask for a check: any other hint for a lead on its way (a
        # redelivery, an eligibility change) costs nothing
        to_check = sorted({h.crm_id for h in hints if h.event_type == ACTIVITY_HINT
                           and known.get(h.crm_id) in CLOCK_WATCHED})
        start = window_start(ctx, now)
        fetched = ctx.connector.fetch(to_fetch) if to_fetch else []
        if to_check:
            attempts = check_leads(ctx, to_check)
            if on_attempts is not None:
                on_attempts(attempts)
        leads = [lead for lead in fetched if lead.created_at >= start]
        result.outside_window = len(fetched) - len(leads)
        with ctx.store.unit_of_work() as uow:
            _record(uow, ctx, leads, result)
            uow.inbox.mark_processed([hint.id for hint in hints if hint.id is not None],
                                     now=now)
            uow.commit()
        result.from_webhooks = len(hints)
        if result.outside_window:
            log.info("inbox.outside_window", crm=ctx.crm, count=result.outside_window)
    return result


def purge_inbox(ctx: Context) -> int:
    """Delete processed webhook events past their retention; runs on the poll schedule."""
    with ctx.store.unit_of_work() as uow:
        purged = uow.inbox.purge_processed(ctx.clock() - INBOX_RETENTION)
        uow.commit()
    if purged:
        log.info("inbox.purged", crm=ctx.crm, count=purged)
    return purged
