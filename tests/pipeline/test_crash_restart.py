"""`sync --once` killed with SIGKILL mid-cycle, then run again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus, open_store
from tests.pipeline.conftest import seed, write_config


def sync_once(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sync", "--config", str(config), "sync",
                             "--once"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_sigkill_mid_cycle_loses_nothing_and_duplicates_nothing(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    ids = seed(box, 300, seed_value=12) + seed(box, 20, owned=20, seed_value=13)
    config = write_config(box, tmp_path)
    env = {**os.environ, "HUBSPOT_TOKEN": box.token}
    box.faults = Faults(latency=0.03)  # stretch each call so kills land inside the cycle
    rng = random.Random(4)
    kills = 0
    for _ in range(8):
        process = sync_once(config, env)
        time.sleep(rng.uniform(1.5, 4.5))  # a cycle writes from ~2.5 s to ~4 s
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 5
    # the kills interrupted the cycles while they were writing, not only during start-up
    assert any(r.path.endswith("/batch/update") for r in box.request_log)
    box.faults = Faults()
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
    assert len(eligible) == 300
    assert all(statuses[cid] == LeadStatus.TASK_CREATED for cid in eligible)
    duplicates = {cid: n for cid in eligible if (n := len(box.tasks_for(cid))) != 1}
    assert duplicates == {}, "exactly one task per lead"
