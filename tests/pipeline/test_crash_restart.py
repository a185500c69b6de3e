"""`sync --once` killed with SIGKILL mid-cycle, then run again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus, open_store
from tests.pipeline.conftest import is_write_call, seed, write_config


def sync_once(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sync", "--config", str(config), "sync",
                             "--once"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def run_and_kill(box: HubSpotSandbox, config: Path, env: dict[str, str],
                 rng: random.Random) -> bool:
    """Start a cycle and SIGKILL it right after its k-th CRM write was served (so the
    process dies between a write and recording it), or after a random delay (so it may die
    inside a store transaction). True when the process was killed."""
    start = len(box.request_log)
    after_writes = rng.choice([None, 1, 2, 3, 4, 5])
    delay = rng.uniform(1.0, 3.0)
    began = time.monotonic()
    process = sync_once(config, env)
    killed = False
    while process.poll() is None:
        writes = sum(1 for r in box.request_log[start:] if is_write_call(r.method, r.path))
        due = writes >= after_writes if after_writes else time.monotonic() - began >= delay
        if due:
            process.kill()
            killed = True
            break
        time.sleep(0.002)
    process.wait(timeout=30)
    return killed


def test_sigkill_mid_cycle_loses_nothing_and_duplicates_nothing(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    ids = seed(box, 200, seed_value=12) + seed(box, 20, owned=20, seed_value=13)
    config = write_config(box, tmp_path, extra_service='claim_lease = "1s"')
    env = {**os.environ, "HUBSPOT_TOKEN": box.token}
    box.faults = Faults(latency=0.02)
    rng = random.Random(4)
    kills = 0
    for round_ in range(14):
        if kills >= 6:
            break
        if round_:  # fresh arrivals keep every run busy
            now = datetime.now(UTC)
            ids += box.seed_contacts(60, created_between=(now - timedelta(seconds=5), now),
                                     rng_seed=100 + round_)
        kills += run_and_kill(box, config, env, rng)
    assert kills >= 5
    box.faults = Faults()
    time.sleep(1.1)  # the killed runs' claims on outbox rows lapse
    final = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "sync",
                            "--once"], env=env, capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        store.check(full=True)
        with store.unit_of_work(read_only=True) as uow:
            statuses = {row.crm_id: row.status for row in uow.leads.by_status()}
    finally:
        store.close()
    assert sorted(statuses) == sorted(ids), "0 lost"
    eligible = [cid for cid in ids if statuses[cid] != LeadStatus.SKIPPED]
    assert len(eligible) == len(ids) - 20
    not_done = {cid: statuses[cid] for cid in eligible if statuses[cid] != "task_created"}
    assert not_done == {}
    duplicates = {cid: n for cid in eligible if (n := len(box.tasks_for(cid))) != 1}
    assert duplicates == {}, "exactly one task per lead"
