"""`sync` against the Salesforce sandbox: the HubSpot acceptance scenarios, for Leads."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from sandbox._server import Request, Response
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.app import is_write
from state import LeadStatus
from sync.context import Context
from sync.cycle import run_cycle
from tests.pipeline.conftest import RULE_POOLS, SF_HANDLES, lead_rows, sf_seed, write_sf_config


class WriteSpy:
    """Every write request the sandbox received, with its Sforce-Auto-Assign header."""

    def __init__(self, box: SalesforceSandbox) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self._app = box.server.app
        box.server.app = self

    def __call__(self, req: Request) -> Response:
        if is_write(req):  # a Composite of queries only is a read
            self.seen.append((req.method, req.path, req.headers.get("Sforce-Auto-Assign")))
        response: Response = self._app(req)
        return response


@pytest.fixture
def spy(sf_box: SalesforceSandbox) -> Iterator[WriteSpy]:
    watcher = WriteSpy(sf_box)
    yield watcher
    # the org's assignment rule never fired: every write said FALSE, no Lead went to its queue
    assert all(header == "FALSE" for _, _, header in watcher.seen), watcher.seen
    rule_queue = sf_box.assignment_rule_queue_id
    assert all(lead["OwnerId"] != rule_queue for lead in sf_box.leads())


def owner_of(box: SalesforceSandbox, lead_id: str) -> str:
    return str(box.get(lead_id)["OwnerId"])


def expected_rule(lead: dict[str, object]) -> str:
    insurance = str(lead.get("Insurance_Type__c") or "").strip().lower()
    if insurance in ("commercial", "ppo", "hmo"):
        return "commercial"
    if insurance in ("medicaid", "medicare"):
        return "medicaid"
    return "everyone"


def test_300_leads_each_eligible_one_gets_a_pool_owner_and_exactly_one_task(
        sf_box: SalesforceSandbox, spy: WriteSpy,
        make_sf_context: Callable[..., Context]) -> None:
    queued = sf_seed(sf_box, 260, seed_value=1)
    owned = sf_seed(sf_box, 40, owned=40, seed_value=2)
    owned_before = {lid: owner_of(sf_box, lid) for lid in owned}
    assert all(not o.startswith("00G") for o in owned_before.values())
    ctx = make_sf_context()
    coordinator_of = {sf_box.user_id(h): h for h in SF_HANDLES}

    result = run_cycle(ctx)

    assert result.routing.routed == 260 and result.ingest.skipped == 40
    rows = lead_rows(ctx)
    for lid in queued:
        lead = sf_box.get(lid)
        coordinator = coordinator_of[lead["OwnerId"]]
        rule = expected_rule(lead)
        assert rows[lid].rule == rule
        assert coordinator in RULE_POOLS[rule], (lid, rule, coordinator)
        tasks = sf_box.tasks(lid)
        assert len(tasks) == 1, lid
        task = tasks[0]
        assert task["OwnerId"] == lead["OwnerId"] and task["Status"] == "Not Started"
        due = datetime.fromisoformat(task["ReminderDateTime"])
        assert rows[lid].sla_due is not None
        assert abs((due - rows[lid].sla_due).total_seconds()) < 0.002
        assert task["ActivityDate"] == rows[lid].sla_due.date().isoformat()
        assert rows[lid].status == LeadStatus.TASK_CREATED
    for lid, before in owned_before.items():
        assert owner_of(sf_box, lid) == before
        assert sf_box.tasks(lid) == []
        assert rows[lid].status == LeadStatus.SKIPPED
    assert any(method == "PATCH" for method, _, _ in spy.seen)

    spy.seen.clear()
    again = run_cycle(ctx)
    assert spy.seen == [] and again.routing.routed == 0


def test_batches_keep_api_calls_to_a_few_per_hundred_leads(
        sf_box: SalesforceSandbox, make_sf_context: Callable[..., Context]) -> None:
    sf_seed(sf_box, 300, seed_value=3)
    ctx = make_sf_context()
    before = sf_box.api_calls
    run_cycle(ctx)
    calls = sf_box.api_calls - before
    # poll (2,000 a page), per 200: owner read + collection update + task collection,
    # attempts (record + task queries), the default lead status once
    assert calls <= 12, calls


def test_sla_breaches_reassign_then_escalate_and_respect_contact_and_people(
        sf_box: SalesforceSandbox, spy: WriteSpy, make_sf_context: Callable[..., Context],
        tmp_path: Path) -> None:
    ids = sf_seed(sf_box, 12, seed_value=4)
    ctx = make_sf_context(sla="2s", single_pool=True)
    run_cycle(ctx)
    contacted, by_hand, ignored = ids[:3], ids[3:6], ids[6:]
    first_owner = {lid: owner_of(sf_box, lid) for lid in ids}
    dana = sf_box.user_id("dana")
    for lid in contacted:
        sf_box.log_call(lid, by=first_owner[lid])
    for lid in by_hand:
        sf_box.set_owner(lid, dana)

    owners_seen: dict[str, list[str]] = {lid: [first_owner[lid]] for lid in ignored}
    for _ in range(3):  # two reassignments, then the final owner
        time.sleep(2.1)
        run_cycle(ctx)
        for lid in ignored:
            owners_seen[lid].append(owner_of(sf_box, lid))

    rows = lead_rows(ctx)
    for lid in contacted:
        assert rows[lid].status == LeadStatus.CONTACTED
        assert owner_of(sf_box, lid) == first_owner[lid] and len(sf_box.tasks(lid)) == 2
    for lid in by_hand:
        assert rows[lid].status == LeadStatus.OVERRIDDEN
        assert owner_of(sf_box, lid) == dana and len(sf_box.tasks(lid)) == 1
    for lid in ignored:
        first, second, third, final = owners_seen[lid]
        assert len({first, second, third}) == 3, owners_seen[lid]  # someone else each time
        assert final == dana
        assert rows[lid].status == LeadStatus.ESCALATED_FINAL
        assert rows[lid].reassignments == 3
        assert [t["OwnerId"] for t in sf_box.tasks(lid)] == [first, second, third, final]

    config = write_sf_config(sf_box, tmp_path, sla="2s", single_pool=True)
    shown = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "explain",
                            ignored[0]], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    trail = shown.stdout
    for text in ("arrived", "routed", "owner written to the CRM", "task created",
                 "SLA breached", "re-routed (escalation)", "escalated_final:dana",
                 "previously_failed"):
        assert text in trail, text
    assert trail.count("SLA breached") == 3


def test_sync_once_command_runs_a_cycle_and_reports_it(sf_box: SalesforceSandbox,
                                                        tmp_path: Path) -> None:
    sf_seed(sf_box, 25, seed_value=5)
    config = write_sf_config(sf_box, tmp_path)
    env = {"SALESFORCE_ACCESS_TOKEN": sf_box.token, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "sync",
                           "--once"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "25 new leads" in done.stdout and "25 routed" in done.stdout
    assert "25 tasks created" in done.stdout
    for lead in sf_box.leads():  # log lines carry ids and decisions, never lead details
        for secret in (lead["Email"], lead["Phone"], lead["LastName"]):
            assert secret not in done.stderr and secret not in done.stdout
    assert sf_box.token not in done.stderr


def test_a_bad_token_stops_with_a_clear_message(sf_box: SalesforceSandbox,
                                                tmp_path: Path) -> None:
    config = write_sf_config(sf_box, tmp_path)
    env = {"SALESFORCE_ACCESS_TOKEN": "00Dwrong!token", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "sync",
                           "--once"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "credentials" in done.stderr
    assert "00Dwrong!token" not in done.stderr


def test_a_deactivated_user_is_reported_and_never_written(
        sf_box: SalesforceSandbox, spy: WriteSpy,
        make_sf_context: Callable[..., Context]) -> None:
    maria = sf_box.user_id("maria")
    sf_box.update_record(maria, {"IsActive": False})
    ids = sf_seed(sf_box, 40, seed_value=6)
    ctx = make_sf_context()
    assert "maria" in ctx.directory.unusable
    run_cycle(ctx)
    assert all(owner_of(sf_box, lid) not in (maria, sf_box.admissions_inbox_id)
               for lid in ids)
