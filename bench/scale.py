"""Throughput of several `leadrouter run` workers over several portals on PostgreSQL.

For each worker count (default 1, 2 and 4): a fresh database on a PostgreSQL server started
here, one HubSpot sandbox per portal (HTTPS on loopback, default 4 portals), the workers
started and healthy, then `--leads` contacts per portal created at once; the clock runs
until every lead of every portal has its owner and its task in the CRM and `task_created`
in the store. Prints leads routed per second per worker count, and the ratio to one worker.

    python bench/scale.py [--workers 1,2,4] [--portals 4] [--leads 500]

Needs the PostgreSQL server binaries (apt package `postgresql`). Everything runs on this
machine, sandboxes included: on a small machine the workers compete with the CRMs for CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import PgServer, _pg_bindir
from tests.scale.deployment import Deployment


def start_postgres() -> PgServer:
    bindir = _pg_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found: apt-get install -y postgresql")
    root = Path(tempfile.mkdtemp(prefix="leadrouter-bench-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    server = PgServer(bindir, root)
    server.start()
    return server


def one_round(server: PgServer, workers: int, portals: int, leads: int) -> float:
    """Seconds from the leads' creation until all are routed, with `workers` workers."""
    names = [f"portal{n}" for n in range(portals)]
    folder = Path(tempfile.mkdtemp(prefix="leadrouter-bench-scale-"))
    try:
        with Deployment(folder, server.new_database(), names) as dep:
            started = dep.add_workers(workers)
            for worker in started:
                worker.start()
            deadline = time.monotonic() + 120
            while not all(dep.healthy(worker) for worker in started):
                if time.monotonic() > deadline or not all(w.alive() for w in started):
                    sys.exit("a worker did not start:\n" + started[0].logs()[-3000:])
                time.sleep(0.2)
            begin = time.monotonic()
            dep.seed(leads, just_now=True)
            if not dep.wait_all_tasked(600):
                sys.exit(f"not every lead was routed within 10 minutes ({dep.tasked()})")
            return time.monotonic() - begin
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--portals", type=int, default=4)
    parser.add_argument("--leads", type=int, default=500, help="leads per portal")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    total = args.portals * args.leads
    print(f"{args.portals} portals x {args.leads} leads = {total} leads per round, "
          f"PostgreSQL, {os.cpu_count()} CPUs")
    server = start_postgres()
    try:
        base: float | None = None
        print(f"{'workers':>7} {'seconds':>8} {'leads/s':>8} {'vs 1':>6}")
        for count in counts:
            seconds = one_round(server, count, args.portals, args.leads)
            rate = total / seconds
            base = base or rate
            print(f"{count:>7} {seconds:>8.1f} {rate:>8.1f} {rate / base:>6.2f}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


if __name__ == "__main__":
    main()
