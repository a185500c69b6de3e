"""A backlog of N new leads, routed end to end against a sandbox CRM.

The sandbox (HubSpot or Salesforce emulator, HTTPS on 127.0.0.1) is seeded with N unowned
leads created over the last three hours; a fresh SQLite store and the real connector run
`run_cycle` until every lead is routed (or a cycle finds nothing to do). Printed: leads
routed, API calls the sandbox counted (start-up owner listing included), calls per routed
lead, cycles and wall time.

Wall time is mostly the pipeline's SQLite work and the emulator's SOQL evaluation (an
`Id IN (...)` over 10,000 records takes the emulator ~1.4 s), not the client.

    /work/venv/bin/python bench/backlog.py --crm salesforce [--leads 10000]
    /work/venv/bin/python bench/backlog.py --crm hubspot [--leads 10000]

Target: <= 0.03 calls per routed lead for Salesforce (200-record sObject Collections).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time

# bench/routing.py is named like the `routing` package: keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import structlog  # noqa: E402

from sandbox.hubspot import HubSpotSandbox  # noqa: E402
from sandbox.salesforce import SalesforceSandbox  # noqa: E402
from state import LeadStatus  # noqa: E402
from sync.config import parse_config  # noqa: E402
from sync.context import Context, build_context  # noqa: E402
from sync.cycle import run_cycle  # noqa: E402

HUBSPOT_OWNERS = {"maria": "1001", "li": "1002", "james": "1003", "sofia": "1004",
                  "devon": "1005", "aisha": "1006", "carlos": "1007", "priya": "1008",
                  "dana": "1009"}
SF_DOMAIN = "sunrise-recovery.example"
DONE = (LeadStatus.TASK_CREATED, LeadStatus.CONTACTED)


def config_text(crm: str, box: Any, db: Path) -> str:
    if crm == "hubspot":
        connection = f"""[crm.hubspot]
base_url = "{box.base_url}"
token_env = "HUBSPOT_TOKEN"
ca_bundle = "{box.ca_file}"

[fields]
insurance = "insurance_type"
state = "state"
"""
        who = {h: f'crm_owner_id = "{o}"' for h, o in HUBSPOT_OWNERS.items()}
    else:
        connection = f"""[crm.salesforce]
instance_url = "{box.instance_url}"
token_env = "SALESFORCE_ACCESS_TOKEN"
object = "Lead"
ca_bundle = "{box.ca_file}"

[fields]
insurance = "Insurance_Type__c"
state = "State"
"""
        who = {h: f'email = "{h}@{SF_DOMAIN}"' for h in HUBSPOT_OWNERS}
    coordinators = "\n".join(f'[[coordinators]]\nid = "{h}"\n{ref}\nteams = ["admissions"]\n'
                             for h, ref in who.items() if h != "dana")
    return f"""[service]
state_url = "sqlite:///{db}"
backfill = "24h"

[crm]
kind = "{crm}"

{connection}
[routing]
fallback_owner = "dana"

[escalation]
max_reassignments = 2
final_owner = "dana"

{coordinators}
[[coordinators]]
id = "dana"
{who["dana"]}
teams = ["supervisor"]

[[rules]]
name = "everyone"
pool = {{ teams = ["admissions"] }}
strategy = "round_robin"
sla = "2h"
"""


def server_calls(crm: str, box: Any) -> int:
    if crm == "hubspot":
        return int(box.counters()["total_calls"])
    return int(box.api_calls)


def routed(ctx: Context) -> int:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return len(uow.leads.by_status(*DONE))


def run(crm: str, leads: int) -> dict[str, Any]:
    box: Any = HubSpotSandbox() if crm == "hubspot" else SalesforceSandbox()
    with box, tempfile.TemporaryDirectory() as folder:
        box.seed_demo()
        now = datetime.now(UTC)
        window = (now - timedelta(hours=3), now - timedelta(minutes=1))
        seeded = time.perf_counter()
        if crm == "hubspot":
            box.seed_contacts(leads, created_between=window, rng_seed=1)
            environ = {"HUBSPOT_TOKEN": box.token}
        else:
            box.seed_leads(leads, created_between=window, rng_seed=1)
            environ = {"SALESFORCE_ACCESS_TOKEN": box.token}
        seed_s = time.perf_counter() - seeded
        config = parse_config(config_text(crm, box, Path(folder) / "state.db"))
        before = server_calls(crm, box)
        started = time.perf_counter()
        ctx = build_context(config, environ=environ)
        cycles = 0
        try:
            while cycles < 50:
                result = run_cycle(ctx)
                cycles += 1
                busy = (result.ingest.new or result.routing.routed
                        or result.apply.owners_written or result.apply.tasks_created)
                if not busy or routed(ctx) >= leads:
                    break
            wall = time.perf_counter() - started
            done = routed(ctx)
        finally:
            ctx.close()
        calls = server_calls(crm, box) - before
    return {"crm": crm, "leads": leads, "routed": done, "api_calls": calls,
            "calls_per_lead": calls / done if done else float("nan"), "cycles": cycles,
            "wall_s": wall, "seed_s": seed_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crm", choices=("hubspot", "salesforce"), default="salesforce")
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    figures = run(args.crm, args.leads)
    print(f"crm                 {figures['crm']}")
    print(f"leads seeded        {figures['leads']}  (seeding {figures['seed_s']:.1f} s)")
    print(f"leads routed        {figures['routed']}  (owner written + task created)")
    print(f"API calls           {figures['api_calls']}  (sandbox-counted, start-up included)")
    print(f"calls per lead      {figures['calls_per_lead']:.4f}")
    print(f"cycles              {figures['cycles']}  (until every lead was routed)")
    print(f"wall time           {figures['wall_s']:.1f} s")


if __name__ == "__main__":
    main()
