"""Outbox claims on PostgreSQL belong to the claiming process's session: a worker that is
SIGKILLed frees its rows at once, not after `claim_lease` (issue 14: two contacts had an
owner and no task for minutes after a kill).

A real PostgreSQL server; the claiming worker is a real process that is SIGKILLed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from state import OutboxKind, open_store
from tests.conftest import PgServer
from tests.scale.deployment import REPO

LEASE = timedelta(minutes=2)  # the default: far longer than this test may wait
CLAIMER = """
import sys, time
from datetime import UTC, datetime, timedelta
from state import open_store
store = open_store(sys.argv[1], migrate_schema=False, portal="east")
with store.unit_of_work() as uow:
    rows = uow.outbox.claim(10, datetime.now(UTC), lease=timedelta(minutes=2))
    uow.commit()
print(",".join(str(row.id) for row in rows), flush=True)
time.sleep(600)
"""


def _enqueue(url: str, portal: str, count: int) -> None:
    store = open_store(url, portal=portal)
    try:
        with store.unit_of_work() as uow:
            for n in range(count):
                uow.outbox.enqueue(f"lead/{portal}{n}/v1/owner", "hubspot", f"{n + 1}",
                                   OutboxKind.OWNER, {"owner_id": "1001"})
            uow.commit()
    finally:
        store.close()


def _claim(url: str, portal: str, limit: int = 10) -> list[int]:
    store = open_store(url, migrate_schema=False, portal=portal)
    try:
        with store.unit_of_work() as uow:
            rows = uow.outbox.claim(limit, datetime.now(UTC), lease=LEASE)
            uow.commit()
        return sorted(row.id for row in rows)
    finally:
        store.close()


def test_a_killed_workers_claims_are_taken_over_at_once_not_after_the_lease(
        pg_server: PgServer) -> None:
    url = pg_server.new_database()
    _enqueue(url, "east", 6)
    _enqueue(url, "west", 3)
    claimer = subprocess.Popen([sys.executable, "-c", CLAIMER, url], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert claimer.stdout is not None
        held = sorted(int(i) for i in claimer.stdout.readline().strip().split(","))
        assert len(held) == 6  # the portal's rows only
        assert _claim(url, "east") == []  # a live worker's rows are skipped
        assert len(_claim(url, "west")) == 3  # another portal's rows are not its
        claimer.send_signal(signal.SIGKILL)
        claimer.wait(10)
        deadline = time.monotonic() + 10
        taken: list[int] = []
        while not taken and time.monotonic() < deadline:
            taken = _claim(url, "east")
            time.sleep(0.1)
        assert taken == held, "the killed worker's rows waited for the lease"
    finally:
        if claimer.poll() is None:
            claimer.kill()
            claimer.wait(10)


def test_a_settled_row_is_released_and_an_unsettled_one_stays_held(pg_server: PgServer
                                                                   ) -> None:
    url = pg_server.new_database()
    _enqueue(url, "east", 2)
    store = open_store(url, portal="east")
    try:
        now = datetime.now(UTC)
        with store.unit_of_work() as uow:
            first, second = uow.outbox.claim(10, now, lease=LEASE)
            uow.commit()
        with store.unit_of_work() as uow:
            uow.outbox.defer(first.id, now)  # given back, due now
            uow.commit()
        assert _claim(url, "east") == [first.id]  # another process takes it at once
        with store.unit_of_work() as uow:  # this process does not claim its own twice
            assert [row.id for row in uow.outbox.claim(10, now, lease=LEASE)] == [first.id]
            uow.commit()
        assert store.claims is not None and store.claims.holds(second.id)
    finally:
        store.close()
