"""`leadrouter run` killed (SIGKILL) or stopped (SIGTERM) mid-work, then restarted."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus, open_store
from tests.service.conftest import ServiceProcess, new_contact, wait_for

# Leads arrive far faster than in life here (~50/s). The poll reads at most 500 leads per page
# and re-reads `poll_overlap` before its cursor: keep fewer than that inside the window.
OVERLAP = 'poll_overlap = "3s"'
# A killed worker's claimed outbox rows come due again after `claim_lease` (2m by default).
LEASE = 'claim_lease = "1s"'


def _final_state(svc: ServiceProcess) -> dict[str, str]:
    store = open_store(f"sqlite:///{svc.folder / 'state.db'}")
    try:
        store.check(full=True)
        with store.unit_of_work(read_only=True) as uow:
            return {row.crm_id: row.status for row in uow.leads.by_status()}
    finally:
        store.close()


def _all_tasked(box: HubSpotSandbox, ids: list[str]) -> bool:
    tasked = {cid for task in box.all_tasks() for cid in task["contact_ids"]}
    return tasked.issuperset(ids)


def _writes(box: HubSpotSandbox) -> int:
    return sum(1 for r in box.request_log if r.path.endswith(("/batch/update", "/batch/create")))


def _task_counts(box: HubSpotSandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in box.all_tasks():
        for cid in task["contact_ids"]:
            counts[cid] = counts.get(cid, 0) + 1
    return counts


class Feeder(threading.Thread):
    """New leads while the service is killed and restarted: most bulk-created (found by
    polling only), one in ten announced by a webhook."""

    def __init__(self, box: HubSpotSandbox, total: int, per_tick: int, tick: float) -> None:
        super().__init__(daemon=True)
        self.box, self.total, self.per_tick, self.tick = box, total, per_tick, tick
        self.ids: list[str] = []

    def run(self) -> None:
        serial = 0
        while len(self.ids) < self.total:
            n = min(self.per_tick, self.total - len(self.ids))
            webhooked = max(1, n // 10)
            now = datetime.now(UTC)
            self.ids += self.box.seed_contacts(n - webhooked, created_between=(
                now - timedelta(milliseconds=200), now), rng_seed=serial)
            for _ in range(webhooked):
                serial += 1
                self.ids.append(new_contact(self.box, serial))
            time.sleep(self.tick)


def _kill_and_restart(box: HubSpotSandbox, svc: ServiceProcess, leads: int, kills: int,
                      seed: int) -> None:
    box.subscribe_webhooks(svc.webhook_url, svc.secret, properties=(), interval=0.05)
    box.faults = Faults(latency=0.02)  # stretch every call so kills land inside the work
    feeder = Feeder(box, leads, per_tick=max(5, leads // 80), tick=0.25)
    rng = random.Random(seed)
    svc.start()
    feeder.start()
    # the first kill lands once the service is writing (not in its first start-up, however
    # slow the machine); the later ones at random moments, half of them during start-up
    assert wait_for(lambda: _writes(box) > 0, 30, interval=0.05), "the service never wrote"
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 2.0))
        svc.kill()
        svc.start(wait=rng.random() < 0.5)
    feeder.join(60)
    box.faults = Faults()
    svc.wait_ready()
    assert wait_for(lambda: _all_tasked(box, feeder.ids), 60, interval=0.25), "leads missing"
    time.sleep(1.0)  # anything still in flight would show up as a second task now
    assert svc.stop() < 10
    assert svc.proc is not None and svc.proc.returncode == 0

    statuses = _final_state(svc)  # integrity_check inside
    assert sorted(statuses) == sorted(feeder.ids), "0 lost"
    assert all(status == LeadStatus.TASK_CREATED for status in statuses.values())
    counts = _task_counts(box)
    assert {cid: n for cid, n in counts.items() if n != 1} == {}, "0 duplicate tasks"
    assert len(counts) == len(feeder.ids)


def test_sigkill_at_random_moments_during_1000_leads_loses_nothing_and_duplicates_nothing(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="1s", apply="1s", escalation="5s", extra_hubspot=OVERLAP,
                          extra_service=LEASE)
    _kill_and_restart(box, svc, leads=1000, kills=6, seed=12)


def test_sigterm_during_a_batch_exits_fast_and_the_next_start_finishes(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess],
        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    ids = box.seed_contacts(400, created_between=(now - timedelta(minutes=30), now),
                            rng_seed=5)
    svc = service_factory(poll="10m", apply="1s", escalation="1m", extra_service=LEASE)
    box.faults = Faults(latency=0.4)  # a batch takes seconds
    svc.start(wait=False)
    assert wait_for(lambda: any(r.path.endswith("/batch/update") for r in box.request_log),
                    30, interval=0.01), "no batch started"
    svc.signal(signal.SIGTERM)
    started = time.monotonic()
    assert svc.proc is not None
    svc.proc.wait(10)
    assert time.monotonic() - started < 10
    assert svc.proc.returncode == 0
    log = svc.log_path.read_text()
    assert '"event": "service.stopped"' in log
    assert not _all_tasked(box, ids), "the stop came after the work was done"

    box.faults = Faults()
    svc.start()
    assert wait_for(lambda: _all_tasked(box, ids), 30, interval=0.25)
    time.sleep(1.0)
    assert svc.stop() < 10
    counts = _task_counts(box)
    assert {cid: n for cid, n in counts.items() if n != 1} == {}
    statuses = _final_state(svc)
    assert len(statuses) == len(ids)
    assert all(status == LeadStatus.TASK_CREATED for status in statuses.values())
