"""Contacts by `createdate`, ascending, through search — past HubSpot's 10,000-result cap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.hubspot.transport import HubSpotTransport
from connectors.hubspot.values import epoch_ms

SEARCH_CAP = 10_000  # HubSpot answers 400 when `after` goes past this
PAGE_SIZE = 200  # the largest page search allows


class CreatedDatePager:
    """Pages of contacts created at or after `start_ms`, oldest first.

    When the next page would cross the cap, the query restarts from the newest createdate
    seen instead of following `after`; records on that boundary come again and the caller
    dedupes by id.
    """

    def __init__(self, transport: HubSpotTransport, properties: list[str], start_ms: int,
                 *, page_size: int = PAGE_SIZE) -> None:
        self._transport = transport
        self._properties = properties
        self._start = start_ms
        self._page_size = page_size
        self.has_more = False

    def _body(self, after: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [
                {"propertyName": "createdate", "operator": "GTE", "value": str(self._start)},
            ]}],
            "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
            "properties": self._properties,
            "limit": self._page_size,
        }
        if after:
            body["after"] = after
        return body

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        after: str | None = None
        while True:
            page = self._transport.call(
                "contacts.search", "crm.contacts.search_api", "do_search", search=True,
                public_object_search_request=self._body(after)) or {}
            results = list(page.get("results") or [])
            following = ((page.get("paging") or {}).get("next") or {}).get("after")
            self.has_more = bool(following)
            yield results
            if not following:
                return
            if int(following) + self._page_size > SEARCH_CAP:
                stamps = [epoch_ms(r.get("properties", {}).get("createdate")) for r in results]
                newest = max((s for s in stamps if s is not None), default=None)
                if newest is None or newest <= self._start:
                    # more than 10,000 contacts share one millisecond: cannot page further
                    raise RuntimeError("HubSpot search cannot move past a crowded createdate")
                self._start, after = newest, None
            else:
                after = following
