"""Report speed: `build_report` over N leads created in the window, on a SQLite file.

The store is filled directly (lead rows, their assignments and the coordinators each decision
passed over, as the lifecycle writes them), with the coordinators and rules of
config.example.toml; then the 7-day report is built R times.

    .venv/bin/python bench/report.py [--leads 100000] [--repeat 5]

Prints the fill time, the report's wall time (best and median of R) and its peak memory.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc

# bench/routing.py is named like the routing package: keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import insert  # noqa: E402

from state import open_store  # noqa: E402
from state.tables import AssignmentRow, LeadRow, PassedOverRow  # noqa: E402
from sync.config import load_config  # noqa: E402
from sync.report import build_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STATUSES = (["task_created"] * 40 + ["contacted"] * 35 + ["breached"] * 5 + ["held"] * 5
            + ["unroutable"] * 2 + ["skipped"] * 8 + ["overridden"] * 3 + ["routed"] * 2)
SOURCES = ("paid_search", "organic", "directory", "referral", None)
REASONS = ("off_shift", "at_capacity", "pto", "away")


def fill(url: str, leads: int, coordinators: list[str], rules: list[str],
         now: datetime) -> None:
    rng = random.Random(7)
    store = open_store(url)
    try:
        for start in range(0, leads, 5000):
            lead_rows, assignments, skipped = [], [], []
            for n in range(start, min(leads, start + 5000)):
                crm_id = str(100_000 + n)
                created = now - timedelta(seconds=rng.uniform(60, 7 * 86400 - 60))
                status = rng.choice(STATUSES)
                owned = status not in ("held", "unroutable", "skipped", "routed")
                owner = rng.choice(coordinators) if owned else None
                first_owner = created + timedelta(seconds=rng.expovariate(1 / 20)) \
                    if owned else None
                attempt = (first_owner + timedelta(seconds=rng.expovariate(1 / 400))
                           if status == "contacted" and first_owner else None)
                lead_rows.append({
                    "portal": "default", "crm": "hubspot", "crm_id": crm_id,
                    "created_at": created, "first_seen_at": created, "attributes": {},
                    "status": status, "owner": owner, "assignment": 1 if owned else 0,
                    "rule": rng.choice(rules), "reassignments": 0, "excluded": [],
                    "updated_at": now, "source": rng.choice(SOURCES),
                    "first_owner_at": first_owner, "contacted_at": attempt,
                    "first_reason": "round_robin",
                    "after_hours": "held" if status == "held" else None})
                if owner and first_owner:
                    due = first_owner + timedelta(minutes=5)
                    assignments.append({
                        "portal": "default", "crm": "hubspot", "crm_id": crm_id, "number": 1,
                        "lead_created_at": created,
                        "kind": "routed", "coordinator": owner, "rule": lead_rows[-1]["rule"],
                        "reason": "round_robin", "assigned_at": first_owner, "sla_due": due,
                        "owner_written_at": first_owner, "attempt_at": attempt,
                        "outcome": "breached" if status == "breached" else None})
                for who in rng.sample(coordinators, 2):
                    skipped.append({"portal": "default", "crm": "hubspot", "crm_id": crm_id,
                                    "at": created, "lead_created_at": created,
                                    "coordinator": who,
                                    "reason": rng.choice(REASONS)})
            with store.unit_of_work() as uow:
                session = uow.session
                session.execute(insert(LeadRow), lead_rows)
                if assignments:
                    session.execute(insert(AssignmentRow), assignments)
                session.execute(insert(PassedOverRow), skipped)
                uow.commit()
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(REPO / "config.example.toml")
    coordinators = list(config.rulebook.coordinators)
    rules = [r.name for r in config.rulebook.rules]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/report.db"
        started = time.perf_counter()
        fill(url, args.leads, coordinators, rules, now)
        print(f"filled {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
        store = open_store(url)
        try:
            times = []
            for attempt in range(args.repeat):
                if attempt == args.repeat - 1:
                    tracemalloc.start()
                started = time.perf_counter()
                report = build_report(store, config, since=now - timedelta(days=7),
                                      until=now, now=now)
                times.append(time.perf_counter() - started)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        finally:
            store.close()
    leads = report["leads"]
    print(f"report over {leads['arrived'] + leads['skipped']:,} leads in the window "
          f"({leads['arrived']:,} arrived): best {min(times) * 1000:.0f} ms, median "
          f"{statistics.median(times) * 1000:.0f} ms of {args.repeat} (target < 1000 ms); "
          f"peak Python memory during one report {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
