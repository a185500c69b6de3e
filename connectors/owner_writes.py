"""Compare before write, written once for every connector: never fight a person.

Before an owner is written, the CRM's owner right now decides: ours already (nothing to do
unless metadata goes with it), one we may replace (none, a placeholder, our own earlier
assignment), or someone a person chose (leave it: overridden).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

from connectors.base import OwnerWrite, OwnerWriteResult, WriteOutcome


def _as_is(owner: str | None) -> str | None:
    return owner


def compare_before_write(
    writes: Sequence[OwnerWrite],
    current: Mapping[str, str | None],
    *,
    unowned_form: Callable[[str | None], str | None] = _as_is,
) -> tuple[list[OwnerWrite], list[OwnerWriteResult]]:
    """(writes still to send, results already known) against `current`: record id -> its
    owner now; a record missing from it no longer exists. `unowned_form` maps a CRM's own
    "nobody" (a Salesforce queue) to None, which every write may replace."""
    to_write: list[OwnerWrite] = []
    known: list[OwnerWriteResult] = []
    for write in writes:
        if write.crm_id not in current:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.MISSING))
            continue
        now_owner = current[write.crm_id]
        if now_owner == write.owner_id and not write.properties:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.ALREADY, now_owner))
        elif (now_owner == write.owner_id or now_owner in write.replaceable
              or unowned_form(now_owner) in write.replaceable):
            to_write.append(write)
        else:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.OVERRIDDEN, now_owner))
    return to_write, known


class RecentOwners:
    """Owners the connector read moments ago (a poll page, a fetch), so the compare before
    an owner write may use them instead of reading the record again.

    Only reads younger than `max_age` count: the point of comparing is to see a person's
    change, and a read seconds old is as good as one made now for that purpose (the write
    races a person's click either way). Older entries are dropped; at most `capacity` are
    kept (a backlog is written within seconds of its read, so the newest ones matter).
    Thread-safe: a poll may fill it while a writer thread reads it.
    """

    def __init__(self, max_age: float, *, capacity: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, owners: Iterable[tuple[str, str | None]]) -> None:
        if self.max_age <= 0:
            return
        now = self._clock()
        with self._lock:
            for crm_id, owner in owners:
                self._seen.pop(crm_id, None)
                self._seen[crm_id] = (owner, now)
            while self._seen and (len(self._seen) > self.capacity
                                  or next(iter(self._seen.values()))[1] < now - self.max_age):
                self._seen.popitem(last=False)

    def fresh(self, crm_ids: Iterable[str]) -> dict[str, str | None]:
        """Owners of these records read within `max_age`: record id -> owner then."""
        now = self._clock()
        with self._lock:
            return {crm_id: seen[0] for crm_id in crm_ids
                    if (seen := self._seen.get(crm_id)) is not None
                    and seen[1] >= now - self.max_age}

    def stalest(self, limit: int, wanted: Callable[[str | None], bool],
                exclude: Iterable[str] = ()) -> list[str]:
        """Up to `limit` remembered records whose owner `wanted` accepts (the ones a write
        may still come for), the longest-read first: worth reading again in bulk."""
        skip = set(exclude)
        found: list[str] = []
        with self._lock:
            for crm_id, (owner, _) in self._seen.items():
                if len(found) >= limit:
                    break
                if crm_id not in skip and wanted(owner):
                    found.append(crm_id)
        return found

    def forget(self, crm_ids: Iterable[str]) -> None:
        """After a write: the next compare must not trust the value read before it."""
        with self._lock:
            for crm_id in crm_ids:
                self._seen.pop(crm_id, None)
