"""Keep a claim on outbox rows while a slow CRM call is in flight.

A claim lasts `claim_lease`, so a crashed worker's rows come due again soon. A live worker
whose call takes longer must not lose its rows meanwhile: another worker would take them,
find no task yet (the first create is still in flight) and create a second one. So while
a call is in flight a background thread renews the claim every third of the lease, and
`renew()` renews it at once (right before a create is sent). Every renewal is a
compare-and-set on what this worker's claim left on the row (`OutboxRepo.renew`): a row
another worker took meanwhile (this one stalled, or the clocks disagree) is dropped, and
the caller must not write it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType

from state import OutboxItem
from sync.context import Context
from sync.logs import get_logger

log = get_logger("leadrouter.apply")
IN_FLIGHT = timedelta(seconds=15)


def in_flight_lease(ctx: Context) -> timedelta:
    """How far a kept claim reaches: renewed in short steps, a worker killed mid-call leaves
    its rows to the others within IN_FLIGHT (the time a request already sent may still take
    to land in the CRM), not a whole `claim_lease`."""
    return min(ctx.config.service.claim_lease, IN_FLIGHT)


class KeptClaim:
    """`with KeptClaim(ctx, rows) as claim:` keeps the rows claimed until the block ends
    (`start()` and `stop()` where the claim outlives one block)."""

    def __init__(self, ctx: Context, rows: Sequence[OutboxItem]) -> None:
        self._ctx = ctx
        self._lease = in_flight_lease(ctx)
        # what our claim left on each row: (next_attempt_at, attempts)
        self._held: dict[int, tuple[datetime, int]] = {
            row.id: (row.next_attempt_at, row.attempts) for row in rows}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self) -> set[int]:
        """Extend the claim by a lease from now; the ids of the rows still ours."""
        with self._lock:
            if not self._held:
                return set()
            until = self._ctx.clock() + self._lease
            with self._ctx.store.unit_of_work() as uow:
                kept = uow.outbox.renew(self._held, until)
                uow.commit()
            lost = len(self._held) - len(kept)
            self._held = {i: (until, attempts) for i, (_, attempts) in self._held.items()
                          if i in kept}
        if lost:
            log.warning("outbox.claim_lost", crm=self._ctx.crm, count=lost)
        return set(kept)

    def release(self, ids: Sequence[int]) -> None:
        """Stop renewing these rows (recorded as done or failed meanwhile)."""
        with self._lock:
            for outbox_id in ids:
                self._held.pop(outbox_id, None)

    def _beat(self) -> None:
        interval = self._lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as exc:  # the store is down: the call in flight decides
                log.warning("outbox.renew_failed", crm=self._ctx.crm,
                            error_type=type(exc).__name__)

    def start(self) -> KeptClaim:
        """Keep the rows claimed from now until `stop()` (a claim that outlives the block
        that made it: a call sent now, answered later)."""
        self._thread = threading.Thread(target=self._beat, name="claim-renewal", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> KeptClaim:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
