"""Routing throughput: decisions per second on one core.

40 coordinators (3 time zones, day and night schedules, holidays, PTO, capacity caps),
25 rules (conditions on insurance/state/source/level of care/ZIP, every strategy, one
nearest-facility rule, a catch-all), leads with random attributes. Each decision is folded
back with `apply_decision`, and open leads are closed at random so capacity stays in play.

    /work/venv/bin/python bench/routing.py [--leads N] [--repeat R]

Figures are the best of R runs, in decisions per CPU-second of this process (robust to other
load on the machine), with wall-clock rates alongside.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time as clock

# This file is named like the package it measures: keep its own folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from collections.abc import Callable  # noqa: E402
from datetime import UTC, date, datetime, time, timedelta  # noqa: E402
from types import MappingProxyType  # noqa: E402

from routing import apply_decision, route  # noqa: E402
from routing.models import (  # noqa: E402
    AfterHours,
    Condition,
    Coordinator,
    DateRange,
    Facility,
    GeoPoint,
    Lead,
    OnCallRotation,
    Op,
    Pool,
    RosterState,
    Rule,
    Rulebook,
    Schedule,
    SlaClock,
    Strategy,
    WorkingHours,
)

TEAMS = ["commercial", "medicaid", "vob", "detox", "residential", "spanish", "web", "phone"]
STATES = ["ca", "nv", "az", "tx", "fl", "ny", "nj", "pa", "oh", "wa"]
INSURANCE = ["commercial", "ppo", "hmo", "medicaid", "medicare", "self_pay", "tricare"]
SOURCES = ["paid_search", "display", "organic", "referral", "phone", "sms"]
LEVELS = ["detox", "residential", "php", "iop", "outpatient"]
HOLIDAYS = frozenset({date(2026, 1, 1), date(2026, 5, 25), date(2026, 7, 3), date(2026, 9, 7)})


def build_rulebook(rng: random.Random) -> Rulebook:
    schedules = [
        Schedule(
            "ny-day",
            "America/New_York",
            (WorkingHours(frozenset(range(5)), time(8), time(18)),),
            HOLIDAYS,
        ),
        Schedule(
            "chi-day",
            "America/Chicago",
            (WorkingHours(frozenset(range(5)), time(7), time(19)),),
            HOLIDAYS,
        ),
        Schedule(
            "la-day",
            "America/Los_Angeles",
            (WorkingHours(frozenset(range(6)), time(6), time(20)),),
            HOLIDAYS,
        ),
        Schedule(
            "ny-night",
            "America/New_York",
            (WorkingHours(frozenset(range(7)), time(18), time(8)),),
            frozenset(),
        ),
    ]
    facilities = {
        "sf": Facility("sf", GeoPoint(37.77, -122.42), frozenset({"detox", "residential"})),
        "la": Facility("la", GeoPoint(34.05, -118.24), frozenset({"residential", "iop", "php"})),
        "dal": Facility("dal", GeoPoint(32.78, -96.80), frozenset()),
        "nyc": Facility("nyc", GeoPoint(40.71, -74.00), frozenset({"detox", "outpatient"})),
    }
    coordinators = {}
    for i in range(40):
        cid = f"c{i:02d}"
        coordinators[cid] = Coordinator(
            id=cid,
            teams=frozenset(rng.sample(TEAMS, 3)),
            capacity=25,
            weight=rng.randint(1, 4),
            schedule=schedules[i % 4],
            pto=(DateRange(date(2026, 3, 2), date(2026, 3, 6)),) if i % 13 == 0 else (),
            facility=list(facilities)[i % 4],
        )
    strategies = list(Strategy)
    rules = []
    for i in range(24):
        conds = [Condition("insurance", Op.IN, tuple(rng.sample(INSURANCE, 2)))]
        if i % 2:
            conds.append(Condition("state", Op.IN, tuple(rng.sample(STATES, 4))))
        if i % 3 == 0:
            conds.append(Condition("source", Op.NOT_IN, ("display",)))
        if i % 5 == 0:
            conds.append(Condition("zip", Op.PREFIX, (f"{rng.randint(10, 99)}",)))
        rules.append(
            Rule(
                name=f"r{i:02d}",
                conditions=tuple(conds),
                pool=Pool(teams=frozenset(rng.sample(TEAMS, 2)), nearest_facility=i == 7),
                strategy=strategies[i % len(strategies)],
                after_hours=[AfterHours.HOLD, AfterHours.ON_CALL, AfterHours.ASSIGN_ANYWAY][i % 3],
                on_call="nights",
                fallback=f"c{(i * 7) % 40:02d}",
                sla=timedelta(minutes=5 * (1 + i % 4)),
            )
        )
    rules.append(Rule(name="catch_all", conditions=(), pool=Pool(teams=frozenset({"web"}))))
    return Rulebook(
        coordinators=MappingProxyType(coordinators),
        rules=tuple(rules),
        facilities=MappingProxyType(facilities),
        rotations=MappingProxyType(
            {
                "nights": OnCallRotation(
                    "nights", ("c03", "c07", "c11"), datetime(2026, 1, 5, tzinfo=UTC)
                )
            }
        ),
        fallback_owner="c00",
        sla_clock=SlaClock.BUSINESS,
    )


def build_leads(rng: random.Random, n: int, start: datetime) -> list[Lead]:
    leads = []
    for i in range(n):
        attrs = {
            "insurance": rng.choice(INSURANCE).upper() if i % 7 == 0 else rng.choice(INSURANCE),
            "state": rng.choice(STATES),
            "source": rng.choice(SOURCES),
            "level_of_care": rng.choice(LEVELS),
            "zip": f"{rng.randint(10000, 99999)}",
        }
        if i % 11 == 0:
            del attrs["state"]
        leads.append(
            Lead(
                id=f"L{i}",
                created_at=start + timedelta(seconds=20 * i),
                attributes=MappingProxyType(attrs),
                location=GeoPoint(rng.uniform(30, 45), rng.uniform(-122, -72)) if i % 4 else None,
                previous_owner=f"c{rng.randint(0, 39):02d}" if i % 5 == 0 else None,
            )
        )
    return leads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    rulebook = build_rulebook(rng)
    start = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # Wed, US morning through the night
    leads = build_leads(rng, args.leads, start)
    roster = RosterState()
    route(leads[0], rulebook, roster, start)  # warm caches (rulebook compile, zones)

    def route_only() -> None:
        for ld in leads:
            route(ld, rulebook, roster, ld.created_at)

    counts: dict[str, int] = {}

    def route_and_apply() -> None:
        state = RosterState()
        counts.clear()
        close = random.Random(11)
        for i, ld in enumerate(leads):
            d = route(ld, rulebook, state, ld.created_at)
            state = apply_decision(state, d)
            counts[d.status.value] = counts.get(d.status.value, 0) + 1
            if i % 3 == 0 and state.open_counts:  # someone contacts a lead: it closes
                oc = dict(state.open_counts)
                cid = close.choice(list(oc))
                oc[cid] = max(0, oc[cid] - 1)
                state = RosterState(oc, state.last_assigned, state.weights, state.away)

    def best(fn: Callable[[], None]) -> tuple[float, float]:
        """Best of `--repeat` runs: (CPU seconds of this process, wall seconds)."""
        cpu, wall = [], []
        for _ in range(args.repeat):
            c0, w0 = clock.process_time(), clock.perf_counter()
            fn()
            cpu.append(clock.process_time() - c0)
            wall.append(clock.perf_counter() - w0)
        return min(cpu), min(wall)

    r_cpu, r_wall = best(route_only)
    a_cpu, a_wall = best(route_and_apply)
    n = len(leads)
    print(f"leads: {n}, coordinators: 40, rules: {len(rulebook.rules)}, outcomes: {counts}")
    print(
        f"route only:              {n / r_cpu:,.0f} decisions/s per CPU-second "
        f"(wall {n / r_wall:,.0f}/s)"
    )
    print(
        f"route + apply_decision:  {n / a_cpu:,.0f} decisions/s per CPU-second "
        f"(wall {n / a_wall:,.0f}/s)  <- headline, one core"
    )


if __name__ == "__main__":
    main()
