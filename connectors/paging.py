"""Pagination, written once: `after`-token pages and fixed-size batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.base import CrmLead, PollPage

T = TypeVar("T")


def cursor_ceiling() -> datetime:
    """The newest creation time a poll cursor may take: now. A record dated in the future
    (an import that set `createdate`/`CreatedDate` wrongly) is still returned, but must not
    move the cursor past the present, or every lead created after it would be skipped for
    good. (Clock skew with the CRM is covered by the poll overlap window.)"""
    return datetime.now(UTC)


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items (CRM batch endpoints cap their inputs)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class AfterPager:
    """Follows `paging.next.after` until the last page; `fetch(after)` returns one page."""

    def __init__(self, fetch: Callable[[str | None], dict[str, Any]], *,
                 max_pages: int = 10_000) -> None:
        self._fetch = fetch
        self._max_pages = max_pages

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        after: str | None = None
        for _ in range(self._max_pages):
            page = self._fetch(after) or {}
            yield list(page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return


def collect_pages(pages: Iterator[PollPage], limit: int,
                  fresh: Callable[[CrmLead], bool]) -> PollPage:
    """`Connector.poll` over a connector's streamed pages: pages until `limit` records past
    the cursor (`fresh`) are in hand, as one page (deduped by id, oldest first). Only fresh
    records count, or a busy overlap window (more than `limit` records) would hold the
    cursor in place."""
    leads: dict[str, CrmLead] = {}
    counted = 0
    last: PollPage | None = None
    for page in pages:
        last = page
        for lead in page.leads:
            if lead.crm_id not in leads:
                leads[lead.crm_id] = lead
                counted += fresh(lead)
        if counted >= limit and page.more:
            break
    if last is None:
        raise ValueError("a poll yields at least one page")
    ordered = sorted(leads.values(), key=lambda lead: (lead.created_at, lead.crm_id))
    return PollPage(ordered, last.cursor, more=last.more)
