"""`sync` against the HubSpot sandbox: owners, tasks, idempotence, the SLA clock."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus
from sync.context import Context
from sync.cycle import run_cycle
from sync.sla_scan import detect_attempts
from tests.pipeline.conftest import (
    COORDINATORS,
    RULE_POOLS,
    expected_rule,
    is_write_call,
    lead_rows,
    seed,
    write_config,
)

OWNER_OF = {ident: owner for ident, (owner, _) in COORDINATORS.items()}
COORDINATOR_OF = {owner: ident for ident, owner in OWNER_OF.items()}


def owner_of(box: HubSpotSandbox, contact_id: str) -> str | None:
    return box.contact(contact_id)["properties"].get("hubspot_owner_id") or None


def test_300_contacts_each_eligible_one_gets_a_pool_owner_and_exactly_one_task(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    unowned = seed(box, 260, seed_value=1)
    owned = seed(box, 40, owned=40, seed_value=2)
    owned_before = {cid: owner_of(box, cid) for cid in owned}
    assert all(owned_before.values())
    ctx = make_context()

    result = run_cycle(ctx)

    assert result.routing.routed == 260 and result.ingest.skipped == 40
    rows = lead_rows(ctx)
    for cid in unowned:
        contact = box.contact(cid)["properties"]
        coordinator = COORDINATOR_OF[contact["hubspot_owner_id"]]
        rule = expected_rule(contact)
        assert rows[cid].rule == rule
        assert coordinator in RULE_POOLS[rule], (cid, rule, coordinator)
        tasks = box.tasks_for(cid)
        assert len(tasks) == 1, cid
        task = tasks[0]["properties"]
        assert task["hubspot_owner_id"] == contact["hubspot_owner_id"]
        due = datetime.fromisoformat(task["hs_timestamp"].replace("Z", "+00:00"))
        assert rows[cid].sla_due is not None
        assert abs((due - rows[cid].sla_due).total_seconds()) < 0.002
        assert rows[cid].status == LeadStatus.TASK_CREATED
    for cid, before in owned_before.items():
        assert owner_of(box, cid) == before
        assert box.tasks_for(cid) == []
        assert rows[cid].status == LeadStatus.SKIPPED

    box.clear_log()
    again = run_cycle(ctx)
    writes = [(r.method, r.path) for r in box.request_log if is_write_call(r.method, r.path)]
    assert writes == [] and again.routing.routed == 0


def test_batches_keep_api_calls_to_a_few_per_hundred_leads(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    seed(box, 300, seed_value=3)
    ctx = make_context()
    box.clear_log()
    run_cycle(ctx)
    calls = len(box.request_log)
    # search pages (200), batch read + update (100), batch task create (100), attempts
    assert calls <= 20, calls


def test_sla_breaches_reassign_then_escalate_and_respect_contact_and_people(
        box: HubSpotSandbox, make_context: Callable[..., Context], tmp_path: Path) -> None:
    ids = seed(box, 12, seed_value=4)
    ctx = make_context(sla="2s", single_pool=True)
    run_cycle(ctx)
    contacted, by_hand, ignored = ids[:3], ids[3:6], ids[6:]
    first_owner = {cid: owner_of(box, cid) for cid in ids}
    for cid in contacted:
        box.log_call(cid, owner_id=first_owner[cid])
    for cid in by_hand:
        box.set_owner_by_hand(cid, "1009")

    owners_seen: dict[str, list[str | None]] = {cid: [first_owner[cid]] for cid in ignored}
    for _ in range(3):  # two reassignments, then the final owner
        time.sleep(2.1)
        run_cycle(ctx)
        for cid in ignored:
            owners_seen[cid].append(owner_of(box, cid))

    rows = lead_rows(ctx)
    for cid in contacted:
        assert rows[cid].status == LeadStatus.CONTACTED
        assert owner_of(box, cid) == first_owner[cid] and len(box.tasks_for(cid)) == 1
    for cid in by_hand:
        assert rows[cid].status == LeadStatus.OVERRIDDEN
        assert owner_of(box, cid) == "1009" and len(box.tasks_for(cid)) == 1
    for cid in ignored:
        first, second, third, final = owners_seen[cid]
        assert len({first, second, third}) == 3, owners_seen[cid]  # someone else each time
        assert final == OWNER_OF["dana"]
        assert rows[cid].status == LeadStatus.ESCALATED_FINAL
        assert rows[cid].reassignments == 3
        tasks = box.tasks_for(cid)
        assert [t["properties"]["hubspot_owner_id"] for t in tasks] == [first, second, third,
                                                                        final]

    config = write_config(box, tmp_path, sla="2s", single_pool=True)
    shown = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "explain",
                            ignored[0]], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    trail = shown.stdout
    for text in ("arrived", "routed", "owner written to the CRM", "task created",
                 "SLA breached", "re-routed (escalation)", "escalated_final:dana",
                 "previously_failed"):
        assert text in trail, text
    assert trail.count("SLA breached") == 3


def test_sync_once_command_runs_a_cycle_and_reports_it(box: HubSpotSandbox,
                                                        tmp_path: Path) -> None:
    seed(box, 25, seed_value=5)
    config = write_config(box, tmp_path)
    env = {"HUBSPOT_TOKEN": box.token, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "sync",
                           "--once"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "25 new leads" in done.stdout and "25 routed" in done.stdout
    assert "25 tasks created" in done.stdout
    # JSON log lines carry ids and decisions, never contact details
    for contact in box.contact_ids():
        props = box.contact(contact)["properties"]
        for secret in (props["email"], props["phone"], props["lastname"]):
            assert secret not in done.stderr and secret not in done.stdout


def test_a_bad_token_stops_with_a_clear_message(box: HubSpotSandbox, tmp_path: Path) -> None:
    config = write_config(box, tmp_path)
    env = {"HUBSPOT_TOKEN": "pat-wrong", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "sync",
                           "--once"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "credentials" in done.stderr
    assert "pat-wrong" not in done.stderr


def test_a_deactivated_owner_is_reported_and_never_written(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    box.deactivate_owner("1001")
    ids = seed(box, 40, seed_value=6)
    ctx = make_context()
    assert "maria" in ctx.directory.unusable
    run_cycle(ctx)
    assert all(owner_of(box, cid) not in (None, "1001") for cid in ids)


def test_handed_over_leads_are_measured_for_two_weeks_then_no_longer_read(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    open_lead, handed_over = seed(box, 2, seed_value=8)
    ctx = make_context(sla="30d")
    run_cycle(ctx)
    box.set_owner_by_hand(handed_over, "1009")
    run_cycle(ctx)
    assert lead_rows(ctx)[handed_over].status == LeadStatus.OVERRIDDEN

    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(days=15)
    box.log_call(open_lead)
    box.log_call(handed_over, owner_id="1009")
    detect_attempts(ctx)
    rows = lead_rows(ctx)
    assert rows[open_lead].status == LeadStatus.CONTACTED
    assert rows[handed_over].contacted_at is None  # past the measuring window
