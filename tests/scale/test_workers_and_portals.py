"""Several `leadrouter run` workers and several portals on one PostgreSQL server.

Real processes, real PostgreSQL (the `pg_server` fixture), one HubSpot sandbox per portal
over HTTPS. Workers are SIGKILLed mid-run and restarted; afterwards every lead of every
portal has exactly one routing decision, one owner and one task, in its own portal only.

`LEADROUTER_SCALE_LEADS` sets the leads per portal (default 600: 1,200 in all).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import PgServer
from tests.pipeline.conftest import COORDINATORS
from tests.scale.deployment import Deployment, facts

PER_PORTAL = int(os.environ.get("LEADROUTER_SCALE_LEADS", "600"))
OWNERS = {owner for owner, _ in COORDINATORS.values()}


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.timeout(420)
def test_three_workers_two_portals_with_kills_route_each_lead_once(
        tmp_path: Path, pg_server: PgServer) -> None:
    with Deployment(tmp_path, pg_server.new_database(), ["east", "west"]) as dep:
        dep.seed(PER_PORTAL)
        total = 2 * PER_PORTAL
        workers = dep.add_workers(3)
        for worker in workers:
            worker.start()
        # mid-run: some leads done, most not; two workers die without a word
        assert _wait(lambda: dep.tasked() >= total // 5, 120), \
            "no progress:\n" + workers[0].logs()[-3000:]
        assert dep.tasked() < total, "the kills must come mid-run"
        killed = workers[1:]
        for worker in killed:
            worker.kill()
        time.sleep(1.0)
        for worker in killed:
            worker.start()
        assert _wait(lambda: dep.tasked() >= total // 2, 120)
        workers[0].kill()  # and once more, another one
        workers[0].start()
        # well within the default claim_lease (2m): a killed worker's claims are free at once
        done = dep.wait_all_tasked(90)
        assert all(worker.alive() for worker in workers)
        for portal in dep.portals:
            seen = facts(dep, portal)
            ids = dep.leads[portal]
            assert done, (portal, sorted(set(seen.rows.values())), dep.tasked())
            assert sorted(seen.rows) == sorted(ids), "a lead lost or one of another portal"
            assert set(seen.rows.values()) == {"task_created"}
            assert all(seen.decisions[cid] == 1 for cid in ids), "a lead decided twice"
            assert seen.assignments == {1}
            assert all(owner in OWNERS for owner in seen.owners.values())
            assert all(n == 1 for n in seen.tasks.values()), "a lead without or with 2 tasks"
            assert seen.foreign_tasks == 0, "a task on a record this portal does not have"
            assert all(seen.task_rows_done[cid] == 1 for cid in ids)
        logs = "".join(worker.logs() for worker in workers)
        assert "@example.com" not in logs  # the contacts' emails (PHI) are never logged
        assert '"portal": "east"' in logs and '"portal": "west"' in logs
