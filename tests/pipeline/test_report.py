"""The report against scenarios run through the real pipeline on both sandboxes: its figures
are computed again here from the CRM's side (creation times, owners, calls) and must match.

Scenario (each CRM): 12 eligible leads and 4 a person owns; after the first cycle 4 leads get
a call in time, 3 are re-owned by a person, 5 are ignored; the clock then moves past their
deadline, and the next cycle breaches and reassigns the 5.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sync.context import Context
from sync.cycle import run_cycle
from sync.report import build_report
from tests.pipeline.conftest import (
    COORDINATORS,
    FRIDAY_NIGHT,
    MONDAY_SHIFT_START,
    night_context,
    seed,
    sf_seed,
    write_config,
)

LATER = timedelta(minutes=11)  # past the 10-minute deadline of the test config
COORDINATOR_OF_HS = {owner: ident for ident, (owner, _) in COORDINATORS.items()}


def interpolated(values: Sequence[float], p: float) -> float | None:
    """Percentile by linear interpolation, written again for the test."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = p * (len(ordered) - 1)
    below, above = ordered[math.floor(rank)], ordered[math.ceil(rank)]
    return below + (above - below) * (rank - math.floor(rank))


def close(a: float | None, b: float | None, tolerance: float = 0.002) -> bool:
    return (a is None) == (b is None) and (a is None or abs(a - b) <= tolerance)  # type: ignore[operator]


def check_partition(report: dict[str, Any]) -> None:
    leads = report["leads"]
    assert leads["assigned"] + leads["held"] + leads["unroutable"] + leads["waiting"] \
        == leads["arrived"]


def window_of(ctx: Context, days: int = 1) -> tuple[datetime, datetime]:
    now = ctx.clock()
    return now - timedelta(days=days), now


def report_of(ctx: Context, days: int = 1) -> dict[str, Any]:
    since, until = window_of(ctx, days)
    return build_report(ctx.store, ctx.config, since=since, until=until, now=ctx.clock())


def test_hubspot_report_matches_what_the_crm_shows(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    eligible = seed(box, 12, seed_value=21)
    owned = seed(box, 4, owned=4, seed_value=22)
    accepted: dict[str, list[tuple[float, str]]] = {}  # contact -> (when, owner) we wrote
    lock = threading.Lock()

    def observe(kind: str, object_type: str, record_id: str, changes: dict[str, str],
                source: str) -> None:
        if object_type == "contacts" and "hubspot_owner_id" in changes \
                and source == "INTEGRATION":
            with lock:
                accepted.setdefault(record_id, []).append(
                    (time.time(), changes["hubspot_owner_id"]))

    box.store.observers.append(observe)
    ctx = make_context(sla="10m", single_pool=True)
    run_cycle(ctx)
    first_owner = {cid: box.contact(cid)["properties"]["hubspot_owner_id"] for cid in eligible}
    called, by_hand, ignored = eligible[:4], eligible[4:7], eligible[7:]
    for cid in called:
        box.log_call(cid, owner_id=first_owner[cid])
    for cid in by_hand:
        box.set_owner_by_hand(cid, "1009")
    real_clock = ctx.clock
    run_cycle(ctx)  # the calls and the people's owners are seen, within the deadline
    ctx.clock = lambda: real_clock() + LATER
    run_cycle(ctx)  # the ignored five breach and are reassigned
    report = report_of(ctx)

    contact = {cid: box.contact(cid)["properties"] for cid in eligible + owned}

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    created = {cid: at(p["createdate"]) for cid, p in contact.items()}
    # -- leads: every eligible lead had its owner accepted; the owned ones were skipped
    assert set(accepted) == set(eligible)
    assert report["leads"] == {"arrived": 12, "assigned": 12, "held": 0, "unroutable": 0,
                               "waiting": 0, "skipped": 4, "fallback": 0}
    check_partition(report)
    # -- time to owner: the CRM's record of our first accepted owner write (clock skew of
    # the two sides: the store records the time of the answer, a few ms later)
    to_owner = [accepted[cid][0][0] - created[cid].timestamp() for cid in eligible]
    figures = report["time_to_owner_seconds"]
    assert figures["n"] == 12
    for key, p in (("p50", 0.5), ("p90", 0.9), ("max", 1.0)):
        assert close(figures[key], interpolated(to_owner, p), 2.0), key
    # -- time to first attempt: the call's own time as the CRM keeps it, exactly
    to_attempt = [(at(contact[cid]["notes_last_contacted"]) - created[cid]).total_seconds()
                  for cid in called]
    attempt = report["time_to_first_attempt_seconds"]
    assert attempt["n"] == 4
    for key, p in (("p50", 0.5), ("p90", 0.9), ("max", 1.0)):
        assert close(attempt[key], interpolated(to_attempt, p)), key
    assert sum(report["time_to_first_attempt_bands"].values()) == 4
    # -- SLA per assignment: 12 first assignments and 5 reassignments (deadline ahead)
    owners_now = {cid: contact[cid]["hubspot_owner_id"] for cid in ignored}
    assert all(owners_now[cid] != first_owner[cid] for cid in ignored)
    assert report["sla"] == {"met": 4, "breached": 5, "pending": 5, "overridden": 3}
    assert report["escalations"] == {"reassigned": 5, "final": 0}
    # -- per coordinator, from the owners the CRM received
    expected: dict[str, Counter[str]] = {ident: Counter() for ident in COORDINATORS}
    for cid in eligible:
        for _, owner in accepted[cid]:
            expected[COORDINATOR_OF_HS[owner]]["assigned"] += 1
    for cid in called:
        expected[COORDINATOR_OF_HS[first_owner[cid]]]["met"] += 1
    for cid in ignored:
        expected[COORDINATOR_OF_HS[first_owner[cid]]]["breached"] += 1
        expected[COORDINATOR_OF_HS[owners_now[cid]]]["open"] += 1
    rows = {row["id"]: row for row in report["coordinators"]}
    assert list(rows) == list(COORDINATORS)  # every coordinator, in config order
    for ident, counts in expected.items():
        assert (rows[ident]["assigned"], rows[ident]["met"], rows[ident]["breached"],
                rows[ident]["open"]) == (counts["assigned"], counts["met"],
                                         counts["breached"], counts["open"]), ident
    assert [r["name"] for r in report["rules"]] == ["everyone"]
    assert report["rules"][0] == {"name": "everyone", "assigned": 17, "met": 4, "breached": 5}
    assert sum(s["arrived"] for s in report["sources"]) == 12
    assert report["after_hours"] == {"arrived": 0, "held": 0, "on_call": 0}
    assert report["needs_person"] == []  # nobody waits: all routed, none past a deadline
    # -- the same JSON from the command, the window given as ISO times
    since, until = window_of(ctx)
    config = write_config(box, Path(ctx.config.service.state_url.removeprefix("sqlite:///"))
                          .parent, sla="10m", single_pool=True)
    shown = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "report",
                            "--json", "--since", since.isoformat(), "--until",
                            until.isoformat()], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    from_cli = json.loads(shown.stdout)
    assert from_cli["leads"] == report["leads"] and from_cli["sla"]["met"] == 4
    assert from_cli["escalations"] == report["escalations"]
    # -- the spreadsheet export: one row per lead of the window, ids and times only
    exported = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "report",
                               "--csv", "--since", "2d"], capture_output=True, text=True,
                              timeout=60)
    assert exported.returncode == 0, exported.stderr
    lines = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(r["crm_id"] for r in lines) == sorted(eligible + owned)
    by_id = {r["crm_id"]: r for r in lines}
    assert {by_id[cid]["status"] for cid in owned} == {"skipped"}
    assert all(by_id[cid]["first_owner_at"] for cid in eligible)
    for props in contact.values():  # no contact detail in either output
        for secret in (props.get("email"), props.get("phone"), props.get("lastname")):
            assert not secret or (secret not in exported.stdout and secret not in shown.stdout)


def test_salesforce_report_matches_what_the_crm_shows(
        sf_box: SalesforceSandbox, make_sf_context: Callable[..., Context]) -> None:
    eligible = sf_seed(sf_box, 12, seed_value=23)
    owned = sf_seed(sf_box, 4, owned=4, seed_value=24)
    ctx = make_sf_context(sla="10m", single_pool=True)
    run_cycle(ctx)
    first_owner = {lid: sf_box.get(lid)["OwnerId"] for lid in eligible}
    called, by_hand, ignored = eligible[:4], eligible[4:7], eligible[7:]
    for lid in called:
        sf_box.log_call(lid, by=first_owner[lid])
    dana = sf_box.user_id("dana")
    for lid in by_hand:
        sf_box.set_owner(lid, dana)
    real_clock = ctx.clock
    run_cycle(ctx)
    ctx.clock = lambda: real_clock() + LATER
    run_cycle(ctx)
    report = report_of(ctx)

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))

    created = {lid: at(sf_box.get(lid)["CreatedDate"]) for lid in eligible + owned}
    assert report["leads"] == {"arrived": 12, "assigned": 12, "held": 0, "unroutable": 0,
                               "waiting": 0, "skipped": 4, "fallback": 0}
    check_partition(report)
    calls = {lid: min(at(t["CreatedDate"]) for t in sf_box.tasks(lid)
                      if t.get("TaskSubtype") == "Call") for lid in called}
    to_attempt = [(calls[lid] - created[lid]).total_seconds() for lid in called]
    attempt = report["time_to_first_attempt_seconds"]
    assert attempt["n"] == 4
    for key, p in (("p50", 0.5), ("p90", 0.9), ("max", 1.0)):
        assert close(attempt[key], interpolated(to_attempt, p)), key
    assert report["time_to_owner_seconds"]["n"] == 12
    assert report["sla"] == {"met": 4, "breached": 5, "pending": 5, "overridden": 3}
    assert report["escalations"] == {"reassigned": 5, "final": 0}
    user_of = {sf_box.user_id(ident): ident for ident in COORDINATORS}
    met = Counter(user_of[first_owner[lid]] for lid in called)
    breached = Counter(user_of[first_owner[lid]] for lid in ignored)
    now_open = Counter(user_of[sf_box.get(lid)["OwnerId"]] for lid in ignored)
    for row in report["coordinators"]:
        assert (row["met"], row["breached"], row["open"]) == (
            met[row["id"]], breached[row["id"]], now_open[row["id"]]), row["id"]
    assert sum(r["assigned"] for r in report["coordinators"]) == 17



def test_night_leads_count_as_after_hours_held_then_assigned_and_need_a_person_meanwhile(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    # Friday 21:00 in Phoenix: nobody on shift until Monday 08:00 (15:00 UTC)
    clock = [FRIDAY_NIGHT]
    ctx = night_context(box, tmp_path / "state.db", clock)
    try:
        ids = [box.create_contact({"insurance_type": "commercial", "state": "AZ"},
                                  created_at=clock[0] - timedelta(minutes=n + 1))
               for n in range(3)]
        run_cycle(ctx)
        night = report_of(ctx)
        assert night["leads"]["arrived"] == 3 and night["leads"]["held"] == 3
        check_partition(night)
        assert night["after_hours"] == {"arrived": 3, "held": 3, "on_call": 0}
        assert sorted(row["crm_id"] for row in night["needs_person"]) == sorted(ids)
        assert {row["status"] for row in night["needs_person"]} == {"held"}
        # the pool was passed over because nobody was on shift
        skipped = {row["id"]: row["passed_over"]["off_shift"] for row in night["coordinators"]}
        assert all(skipped[ident] == 3 for ident in ("maria", "li", "james")), skipped

        clock[0] = MONDAY_SHIFT_START + timedelta(seconds=30)
        run_cycle(ctx)
        monday = report_of(ctx, days=7)
        assert monday["leads"]["arrived"] == 3 and monday["leads"]["assigned"] == 3
        assert monday["leads"]["held"] == 0
        check_partition(monday)
        # how they were handled when they arrived does not change with what happened next
        assert monday["after_hours"] == {"arrived": 3, "held": 3, "on_call": 0}
        assert monday["needs_person"] == []
        created = [datetime.fromisoformat(box.contact(cid)["properties"]["createdate"]
                                          .replace("Z", "+00:00")) for cid in ids]
        # owners were written at the clock's Monday time: a weekend of waiting
        to_owner = [(clock[0] - c).total_seconds() for c in created]
        assert close(monday["time_to_owner_seconds"]["max"], max(to_owner), 5.0)
        assert monday["time_to_owner_bands"]["60m+"] == 3
    finally:
        ctx.close()
