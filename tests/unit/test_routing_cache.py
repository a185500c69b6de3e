"""The per-rulebook caches (pool snapshots per time window) never change a decision."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from routing_builders import LA, NY, coord, hours, lead, roster, rule, rulebook, schedule, utc

from routing import apply_decision, route
from routing.compiled import compiled
from routing.models import Decision, Lead, RosterState, Rulebook, Status, Strategy


def book() -> Rulebook:
    return rulebook(
        [
            coord("a", "t", sched=schedule(NY), capacity=2),
            coord("b", "t", sched=schedule(LA, holidays=[date(2026, 3, 5)])),
            coord("c", "t", sched=schedule(NY, hours("22:00", "06:00", range(7)))),
            coord("d", "t", pto=[(date(2026, 3, 5), date(2026, 3, 5))]),
        ],
        [rule("r", teams=["t"], strategy=Strategy.LEAST_LOADED, fallback="d")],
    )


def fresh(ld: Lead, state: RosterState, now: datetime) -> Decision:
    """The same decision computed with cold caches."""
    return route(ld, book(), state, now)


TIMES = [utc(2026, 3, 4, 12) + timedelta(minutes=47 * i) for i in range(70)]  # ~2.3 days


@pytest.mark.parametrize("order", ["forward", "backward"], ids=lambda o: f"time moving {o}")
def test_cached_decisions_equal_cold_decisions(order: str) -> None:
    rb = book()
    times = TIMES if order == "forward" else list(reversed(TIMES))
    state = roster()
    for i, now in enumerate(times):
        ld = lead(f"L{i}", excluded=["c"] if i % 5 == 0 else [])
        warm = route(ld, rb, state, now)
        cold = fresh(ld, state, now)
        assert (warm.owner, warm.status, warm.reason, warm.release_at, warm.sla_due) == (
            cold.owner,
            cold.status,
            cold.reason,
            cold.release_at,
            cold.sla_due,
        ), now
        assert sorted(warm.explanation, key=repr) == sorted(cold.explanation, key=repr)
        state = apply_decision(state, warm)
        if i % 4 == 0:
            state = roster({}, state.last_assigned, state.weights, away=["b"] if i % 8 == 0 else [])


def test_shift_boundary_is_seen_by_a_warm_cache() -> None:
    rb = book()
    before = route(lead(), rb, roster(), utc(2026, 3, 4, 13, 59, 59))  # 08:59:59 New York
    at = route(lead(), rb, roster(), utc(2026, 3, 4, 14, 0))  # 09:00 New York
    assert before.owner != "a" and at.owner == "a"


def test_away_uses_the_full_check_and_same_result() -> None:
    rb = book()
    d = route(lead(), rb, roster(away=["a"]), utc(2026, 3, 4, 15))
    assert d.owner == "d" and d.status is Status.ASSIGNED
    assert any(s.coordinator == "a" and s.detail.startswith("away") for s in d.explanation)


def test_compiled_rulebook_is_reused_by_identity() -> None:
    rb = book()
    assert compiled(rb) is compiled(rb)
    assert compiled(book()) is not compiled(rb)
