"""Strategies: round robin, smooth weighted round robin, least loaded, sticky; pointers."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from routing_builders import coord, lead, roster, rule, rulebook, utc

from routing import apply_decision, route
from routing.models import Coordinator, PointerUpdate, RosterState, Rulebook, Status, Strategy

NOW = utc(2026, 3, 4, 15, 0)


def book(coordinators: list[Coordinator], strategy: Strategy) -> Rulebook:
    return rulebook(coordinators, [rule("r", teams=["t"], strategy=strategy)])


def run(
    rb: Rulebook, n: int, state: RosterState | None = None, **lead_kw: object
) -> tuple[list[str], RosterState]:
    state = state or roster()
    owners = []
    for i in range(n):
        d = route(lead(f"L{i}", **lead_kw), rb, state, NOW)
        assert d.owner is not None
        owners.append(d.owner)
        state = apply_decision(state, d)
    return owners, state


SEVEN = [coord(c, "t") for c in "gfedcba"]

RR_CASES = [
    ("no pointer starts at the lowest id", roster(), "a"),
    ("continues after the last one assigned", roster(last={"r": "b"}), "c"),
    ("wraps around after the last id", roster(last={"r": "g"}), "a"),
    ("pointer at a coordinator who left continues in sorted order", roster(last={"r": "bb"}), "c"),
    ("pointer past every id wraps around", roster(last={"r": "zz"}), "a"),
    ("skips an ineligible next coordinator", roster(last={"r": "a"}, away=["b"]), "c"),
    ("pointer of another rule is ignored", roster(last={"other": "c"}), "a"),
]


@pytest.mark.parametrize(
    ("state", "expected"), [c[1:] for c in RR_CASES], ids=[c[0] for c in RR_CASES]
)
def test_round_robin_pointer(state: RosterState, expected: str) -> None:
    d = route(lead(), book(SEVEN, Strategy.ROUND_ROBIN), state, NOW)
    assert d.owner == expected
    assert d.pointer == PointerUpdate(key="r", last_assigned=expected)
    assert any(s.kind == "picked" and "pointer" in s.detail for s in d.explanation)


@pytest.mark.parametrize(
    "n", [1, 6, 7, 50, 101], ids=lambda n: f"round robin is even over {n} leads"
)
def test_round_robin_evenness(n: int) -> None:
    owners, _ = run(book(SEVEN, Strategy.ROUND_ROBIN), n)
    counts = Counter({c.id: 0 for c in SEVEN}) + Counter(owners)
    full = {c.id: counts.get(c.id, 0) for c in SEVEN}
    assert max(full.values()) - min(full.values()) <= 1


def test_round_robin_fairness_survives_a_restart() -> None:
    rb = book(SEVEN, Strategy.ROUND_ROBIN)
    straight, _ = run(rb, 10)
    first, state = run(rb, 4)
    persisted = RosterState(
        open_counts=dict(state.open_counts), last_assigned=dict(state.last_assigned)
    )
    second, _ = run(rb, 6, persisted)
    assert first + second == straight


WEIGHTED = [coord("a", "t", weight=3), coord("b", "t", weight=2), coord("c", "t", weight=1)]


@pytest.mark.parametrize(
    ("coordinators", "away", "expected"),
    [
        (WEIGHTED, [], {"a": 300, "b": 200, "c": 100}),
        ([coord("a", "t", weight=5), coord("b", "t", weight=1)], [], {"a": 500, "b": 100}),
        (WEIGHTED, ["a"], {"b": 400, "c": 200}),
        ([*WEIGHTED, coord("z", "t", weight=0)], [], {"a": 300, "b": 200, "c": 100}),
    ],
    ids=[
        "weighted shares 3:2:1 over 600 leads",
        "weighted shares 5:1 over 600 leads",
        "weighted shares among eligible only (2:1)",
        "weight 0 never picked",
    ],
)
def test_weighted_round_robin_proportions(
    coordinators: list[Coordinator], away: list[str], expected: dict[str, int]
) -> None:
    owners, _ = run(book(coordinators, Strategy.WEIGHTED_ROUND_ROBIN), 600, roster(away=away))
    counts = Counter(owners)
    assert set(counts) == set(expected)
    for cid, share in expected.items():
        assert abs(counts[cid] - share) <= 0.05 * share


def test_weighted_round_robin_is_smooth_like_nginx() -> None:
    owners, state = run(
        book(
            [coord("a", "t", weight=5), coord("b", "t"), coord("c", "t")],
            Strategy.WEIGHTED_ROUND_ROBIN,
        ),
        7,
    )
    assert owners == ["a", "a", "b", "a", "c", "a", "a"]
    assert dict(state.weights["r"]) == {"a": 0, "b": 0, "c": 0}


def test_weighted_pointer_carries_current_weights() -> None:
    d = route(lead(), book(WEIGHTED, Strategy.WEIGHTED_ROUND_ROBIN), roster(), NOW)
    assert d.owner == "a" and d.pointer is not None
    assert dict(d.pointer.weights or {}) == {"a": -3, "b": 2, "c": 1}
    assert any("weighted round robin" in s.detail for s in d.explanation)


LL = [coord("a", "t"), coord("b", "t"), coord("c", "t", capacity=2)]
LL_CASES = [
    ("least loaded picks the fewest open leads", roster({"a": 5, "b": 2, "c": 1}), "c"),
    ("least loaded ignores one at capacity", roster({"a": 5, "b": 3, "c": 2}), "b"),
    (
        "least loaded tie broken by round robin after the last one",
        roster({"a": 1, "b": 1, "c": 1}, {"r": "a"}),
        "b",
    ),
    ("least loaded tie wraps around", roster({"a": 1, "b": 2, "c": 1}, {"r": "c"}), "a"),
    ("least loaded counts a missing open count as zero", roster({"a": 1, "b": 1}), "c"),
]


@pytest.mark.parametrize(
    ("state", "expected"), [c[1:] for c in LL_CASES], ids=[c[0] for c in LL_CASES]
)
def test_least_loaded(state: RosterState, expected: str) -> None:
    d = route(lead(), book(LL, Strategy.LEAST_LOADED), state, NOW)
    assert (d.owner, d.reason) == (expected, "least_loaded")
    assert any("least loaded: open leads" in s.detail for s in d.explanation)


def test_least_loaded_is_fair_from_equal_loads() -> None:
    owners, state = run(book(SEVEN, Strategy.LEAST_LOADED), 30, roster({c.id: 4 for c in SEVEN}))
    loads = [state.open_counts[c.id] for c in SEVEN]
    assert max(loads) - min(loads) <= 1
    assert owners[:7] == sorted(c.id for c in SEVEN)


def test_least_loaded_fills_the_emptiest_first() -> None:
    owners, state = run(book(SEVEN[:3], Strategy.LEAST_LOADED), 6, roster({"e": 0, "f": 3, "g": 6}))
    assert owners == ["e", "e", "e", "f", "e", "f"]  # ties go round robin after the last one
    assert dict(state.open_counts) == {"e": 4, "f": 5, "g": 6}


STICKY = [
    coord("a", "t"),
    coord("b", "t"),
    coord("c", "t", pto=[(date(2026, 3, 4), date(2026, 3, 4))]),
    coord("x", "other"),
]
STICKY_CASES = [
    ("sticky: returning contact goes back to the previous owner", "b", "b", "sticky"),
    ("sticky: previous owner on PTO -> round robin", "c", "a", "round_robin"),
    ("sticky: previous owner outside the pool -> round robin", "x", "a", "round_robin"),
    ("sticky: unknown previous owner -> round robin", "ghost", "a", "round_robin"),
    ("sticky: new contact -> round robin", None, "a", "round_robin"),
]


@pytest.mark.parametrize(
    ("prev", "owner", "reason"), [c[1:] for c in STICKY_CASES], ids=[c[0] for c in STICKY_CASES]
)
def test_sticky(prev: str | None, owner: str, reason: str) -> None:
    d = route(lead(previous_owner=prev), book(STICKY, Strategy.STICKY), roster(), NOW)
    assert (d.owner, d.reason) == (owner, reason)
    if reason == "sticky":
        assert d.pointer is None  # a returning contact does not move the round-robin pointer
    else:
        assert any(s.kind == "sticky" for s in d.explanation)


def test_sticky_owner_on_pto_is_explained() -> None:
    d = route(lead(previous_owner="c"), book(STICKY, Strategy.STICKY), roster(), NOW)
    assert any(s.detail == "previous owner c not used: pto" for s in d.explanation)


def test_sticky_previous_owner_who_failed_the_lead_is_not_reused() -> None:
    d = route(
        lead(previous_owner="b", excluded=["b"]), book(STICKY, Strategy.STICKY), roster(), NOW
    )
    assert d.owner == "a"


def test_apply_decision_counts_and_pointer() -> None:
    rb = book(SEVEN, Strategy.ROUND_ROBIN)
    start = roster({"a": 2})
    d = route(lead(), rb, start, NOW)
    after = apply_decision(start, d)
    assert after.open_counts["a"] == 3 and after.last_assigned["r"] == "a"
    assert start.open_counts["a"] == 2 and "r" not in start.last_assigned  # input untouched


def test_apply_decision_ignores_unroutable() -> None:
    rb = book([coord("a", "t")], Strategy.ROUND_ROBIN)
    state = roster(away=["a"])
    d = route(lead(), rb, state, NOW)
    assert d.status is Status.UNROUTABLE
    assert apply_decision(state, d) == state
