"""The search index's lag: HubSpot search trails writes, reads by id do not.

Real HubSpot serves `/search` from an index that catches up with writes seconds (sometimes
much more) later, while GET, batch read and the associations API read the records
themselves. The emulator reproduces that per object type: for `lag` seconds after a write,
search does not see a new record at all, still sees an updated one as it was before, and
does not see a new association. Everything else sees the write at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from .model import OBJECT_TYPE_IDS, Record

__all__ = ["SearchIndex"]

LinkKey = tuple[str, str, str, str]  # (from type, from id, to type, to id)


class SearchIndex:
    """Per-object-type lag and the versions of records search still shows.

    Not locked on its own: the store calls it under its lock.
    """

    def __init__(self, lag: float | Mapping[str, float] = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.default_lag = 0.0
        self.lags: dict[str, float] = {}
        self.clock = clock
        # when a link became visible to search; only links made while a lag was set
        self._linked_at: dict[LinkKey, float] = {}
        if isinstance(lag, Mapping):
            for object_type, seconds in lag.items():
                self.set_lag(seconds, object_type)
        else:
            self.set_lag(lag)

    def set_lag(self, seconds: float, *object_types: str) -> None:
        """Lag for these object types; with none, for every type (overrides cleared)."""
        if seconds < 0:
            raise ValueError("an index lag cannot be negative")
        unknown = sorted(set(object_types) - set(OBJECT_TYPE_IDS))
        if unknown:
            raise ValueError(f"unknown object types: {', '.join(unknown)}")
        if not object_types:
            self.default_lag = float(seconds)
            self.lags.clear()
        for object_type in object_types:
            self.lags[object_type] = float(seconds)

    def lag_of(self, object_type: str) -> float:
        return self.lags.get(object_type, self.default_lag)

    # -- writes ------------------------------------------------------------------------------
    def created(self, object_type: str, rec: Record) -> None:
        """A new record: out of search until the lag has passed."""
        lag = self.lag_of(object_type)
        rec.indexed = None
        rec.visible_at = self.clock() + lag if lag > 0 else 0.0

    def changing(self, object_type: str, rec: Record) -> None:
        """Call before a record changes: search keeps the version it has until the lag has
        passed (a record changed twice within the lag keeps the oldest indexed version)."""
        lag = self.lag_of(object_type)
        if lag <= 0:
            return
        now = self.clock()
        if rec.visible_at <= now:
            rec.indexed = _copy(rec)
        rec.visible_at = now + lag

    def linked(self, links: Iterable[LinkKey]) -> None:
        """New associations: search filters on them only after the lag (of the searched
        record's type)."""
        now = self.clock()
        for link in links:
            if self.lag_of(link[0]) > 0:
                self._linked_at[link] = now

    def unlinked(self, links: Iterable[LinkKey]) -> None:
        for link in links:
            self._linked_at.pop(link, None)

    # -- what search sees (records: SearchPlan.run reads `visible_at` / `indexed`) ------------
    def link_visible(self, link: LinkKey, now: float) -> bool:
        at = self._linked_at.get(link)
        if at is None:
            return True
        if at + self.lag_of(link[0]) > now:
            return False
        del self._linked_at[link]  # indexed for good: nothing left to remember
        return True


def _copy(rec: Record) -> Record:
    copy = Record(rec.num, dict(rec.props), rec.created_ms, rec.updated_ms)
    copy.archived = rec.archived
    return copy
