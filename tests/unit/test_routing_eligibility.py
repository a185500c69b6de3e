"""Who is eligible, and what happens when nobody is (fallback chain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from routing_builders import LA, NY, coord, hours, lead, roster, rule, rulebook, schedule, utc

from routing import route
from routing.models import Coordinator, Lead, RosterState, SkipReason, Status

WED_10_EST = utc(2026, 3, 4, 15, 0)  # Wed 2026-03-04 10:00 New York, 07:00 Los Angeles
ALWAYS_LA = schedule(LA, hours("00:00", "24:00", range(7)))
NINE_TO_FIVE_LA = schedule(LA, hours("09:00", "17:00"))


@dataclass
class Case:
    id: str
    coordinators: list[Coordinator]
    expect_owner: str | None
    lead: Lead = field(default_factory=lead)
    roster: RosterState = field(default_factory=roster)
    now: object = WED_10_EST
    pool: list[str] | None = None  # explicit coordinators instead of team "t"
    fallback: str | None = None
    fallback_owner: str | None = None
    expect_reason: str | None = None
    expect_status: Status | None = None
    explain: tuple[str, ...] = ()


ABC = [coord("a", "t"), coord("b", "t"), coord("c", "t")]

CASES = [
    Case(
        "everyone eligible: round robin starts at the first id",
        ABC,
        "a",
        expect_reason="round_robin",
    ),
    Case("away coordinator is skipped", ABC, "b", roster=roster(away=["a"]), explain=("away",)),
    Case(
        "previously failed coordinator is skipped",
        ABC,
        "b",
        lead=lead(excluded=["a"]),
        explain=("previously_failed",),
    ),
    Case(
        "PTO today is skipped",
        [coord("a", "t", pto=[(date(2026, 3, 4), date(2026, 3, 6))]), *ABC[1:]],
        "b",
        explain=("pto",),
    ),
    Case(
        "PTO range is inclusive of its last day",
        [coord("a", "t", pto=[(date(2026, 3, 1), date(2026, 3, 4))]), *ABC[1:]],
        "b",
    ),
    Case(
        "PTO ended yesterday",
        [coord("a", "t", pto=[(date(2026, 3, 1), date(2026, 3, 3))]), *ABC[1:]],
        "a",
    ),
    Case(
        "PTO date is read in the schedule time zone (still Mar 4 in LA)",
        [coord("a", "t", sched=ALWAYS_LA, pto=[(date(2026, 3, 4), date(2026, 3, 4))]), *ABC[1:]],
        "b",
        now=utc(2026, 3, 5, 6, 0),
    ),
    Case(
        "PTO date without a schedule is the UTC date (already Mar 5)",
        [coord("a", "t", pto=[(date(2026, 3, 4), date(2026, 3, 4))]), *ABC[1:]],
        "a",
        now=utc(2026, 3, 5, 6, 0),
    ),
    Case(
        "holiday in the schedule is skipped",
        [coord("a", "t", sched=schedule(NY, holidays=[date(2026, 3, 4)])), *ABC[1:]],
        "b",
        explain=("holiday",),
    ),
    Case(
        "holiday is the local date (Mar 4 evening in LA = Mar 5 UTC)",
        [
            coord(
                "a",
                "t",
                sched=schedule(LA, hours("00:00", "24:00", range(7)), holidays=[date(2026, 3, 4)]),
            ),
            *ABC[1:],
        ],
        "b",
        now=utc(2026, 3, 5, 6, 0),
    ),
    Case(
        "off shift in own time zone (07:00 in Los Angeles)",
        [coord("a", "t", sched=NINE_TO_FIVE_LA), *ABC[1:]],
        "b",
        explain=("off_shift",),
    ),
    Case(
        "on shift in own time zone (10:00 in New York)",
        [coord("a", "t", sched=schedule(NY)), *ABC[1:]],
        "a",
    ),
    Case(
        "shift start is inclusive",
        [coord("a", "t", sched=schedule(NY)), *ABC[1:]],
        "a",
        now=utc(2026, 3, 4, 14, 0),
    ),
    Case(
        "shift end is exclusive",
        [coord("a", "t", sched=schedule(NY)), *ABC[1:]],
        "b",
        now=utc(2026, 3, 4, 22, 0),
    ),
    Case(
        "weekend is off shift for a weekday schedule",
        [coord("a", "t", sched=schedule(NY)), *ABC[1:]],
        "b",
        now=utc(2026, 3, 7, 15, 0),
    ),
    Case(
        "window ending 24:00 runs until midnight",
        [coord("a", "t", sched=schedule(NY, hours("18:00", "24:00"))), *ABC[1:]],
        "a",
        now=utc(2026, 3, 5, 4, 59, 59),
    ),
    Case(
        "overnight window 22:00-06:00 covers 02:00 the next day",
        [coord("a", "t", sched=schedule(NY, hours("22:00", "06:00", [1])))],
        "a",
        now=utc(2026, 3, 4, 7, 0),
    ),  # Wed 02:00 EST, window started Tue
    Case(
        "overnight window does not cover 06:00",
        [coord("a", "t", sched=schedule(NY, hours("22:00", "06:00", [1]))), coord("b", "t")],
        "b",
        now=utc(2026, 3, 4, 11, 0),
    ),
    Case(
        "at capacity is skipped",
        [coord("a", "t", capacity=3), *ABC[1:]],
        "b",
        roster=roster({"a": 3}),
        explain=("at_capacity (3/3 open leads)",),
    ),
    Case(
        "below capacity is eligible",
        [coord("a", "t", capacity=3), *ABC[1:]],
        "a",
        roster=roster({"a": 2}),
    ),
    Case("capacity 0 never takes leads", [coord("a", "t", capacity=0), *ABC[1:]], "b"),
    Case("no capacity means no cap", ABC, "a", roster=roster({"a": 10_000})),
    Case(
        "unknown id in an explicit pool is skipped",
        ABC,
        "b",
        pool=["zed", "b"],
        explain=("unknown_coordinator",),
    ),
    Case(
        "team pool takes anyone with any of the teams",
        [coord("a", "x"), coord("b", "t", "y"), coord("c", "z")],
        "b",
    ),
    # Fallbacks
    Case(
        "everyone at capacity -> rule fallback (assigned although at capacity)",
        [coord("a", "t", capacity=1), coord("b", "t", capacity=1), coord("f", "other", capacity=1)],
        "f",
        roster=roster({"a": 1, "b": 1, "f": 5}),
        fallback="f",
        expect_reason="fallback:rule",
        explain=("safety net: assigned although at_capacity",),
    ),
    Case(
        "empty pool -> global fallback owner",
        [coord("a", "x"), coord("g")],
        "g",
        fallback_owner="g",
        expect_reason="fallback:global",
        explain=("empty pool",),
    ),
    Case(
        "rule fallback away -> global fallback owner",
        [coord("a", "t"), coord("f"), coord("g")],
        "g",
        roster=roster(away=["a", "f"]),
        fallback="f",
        fallback_owner="g",
        expect_reason="fallback:global",
        explain=("rule fallback f skipped: away",),
    ),
    Case(
        "rule fallback on PTO -> global fallback owner",
        [coord("a", "t"), coord("f", pto=[(date(2026, 3, 4), date(2026, 3, 4))]), coord("g")],
        "g",
        roster=roster(away=["a"]),
        fallback="f",
        fallback_owner="g",
        expect_reason="fallback:global",
    ),
    Case(
        "fallback off shift is still assigned (safety net)",
        [coord("a", "t"), coord("f", sched=NINE_TO_FIVE_LA)],
        "f",
        roster=roster(away=["a"]),
        fallback="f",
        expect_reason="fallback:rule",
        explain=("assigned although off_shift",),
    ),
    Case(
        "fallback chain exhausted -> unroutable",
        [coord("a", "t"), coord("f"), coord("g")],
        None,
        roster=roster(away=["a", "f", "g"]),
        fallback="f",
        fallback_owner="g",
        expect_reason="no_eligible_coordinator",
        expect_status=Status.UNROUTABLE,
    ),
    Case(
        "no fallback configured -> unroutable",
        [coord("a", "t")],
        None,
        roster=roster(away=["a"]),
        expect_reason="no_eligible_coordinator",
        expect_status=Status.UNROUTABLE,
    ),
    Case(
        "unknown fallback id is skipped",
        [coord("a", "t"), coord("g")],
        "g",
        roster=roster(away=["a"]),
        fallback="ghost",
        fallback_owner="g",
        explain=("unknown_coordinator",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_eligibility(case: Case) -> None:
    r = rule(
        "r", teams=[] if case.pool else ["t"], coordinators=case.pool or [], fallback=case.fallback
    )
    rb = rulebook(case.coordinators, [r], fallback_owner=case.fallback_owner)
    d = route(case.lead, rb, case.roster, case.now)  # type: ignore[arg-type]
    assert d.owner == case.expect_owner
    assert d.status == (case.expect_status or Status.ASSIGNED)
    if case.expect_reason:
        assert d.reason == case.expect_reason
    text = "\n".join(s.detail for s in d.explanation)
    for fragment in case.explain:
        assert fragment in text


def test_no_rule_matched_goes_to_the_global_fallback_with_rule_none() -> None:
    rb = rulebook([coord("a", "t"), coord("g")], [], fallback_owner="g")
    d = route(lead(), rb, roster(), WED_10_EST)
    assert (d.status, d.owner, d.rule, d.reason) == (Status.ASSIGNED, "g", None, "fallback:global")


def test_no_rule_and_no_fallback_is_unroutable() -> None:
    d = route(lead(), rulebook([coord("a")], []), roster(), WED_10_EST)
    assert (d.status, d.owner, d.rule, d.reason) == (
        Status.UNROUTABLE,
        None,
        None,
        "no_rule_matched",
    )
    assert d.task is None and d.sla_due is None and d.pointer is None


def test_explanation_names_every_skip_reason() -> None:
    sched_off = schedule(LA)  # 07:00 in LA: off shift
    coordinators = [
        coord("away1", "t"),
        coord("cap1", "t", capacity=1),
        coord("failed1", "t"),
        coord("holiday1", "t", sched=schedule(NY, holidays=[date(2026, 3, 4)])),
        coord("off1", "t", sched=sched_off),
        coord("pto1", "t", pto=[(date(2026, 3, 4), date(2026, 3, 4))]),
        coord("g"),
    ]
    r = rule("r", teams=["t"], coordinators=["ghost"])
    rb = rulebook(coordinators, [r], fallback_owner="g")
    d = route(lead(excluded=["failed1"]), rb, roster({"cap1": 1}, away=["away1"]), WED_10_EST)
    skipped = {s.coordinator: s.detail for s in d.explanation if s.kind == "skipped"}
    expected = {
        "away1": SkipReason.AWAY,
        "cap1": SkipReason.AT_CAPACITY,
        "failed1": SkipReason.PREVIOUSLY_FAILED,
        "holiday1": SkipReason.HOLIDAY,
        "off1": SkipReason.OFF_SHIFT,
        "pto1": SkipReason.PTO,
        "ghost": SkipReason.UNKNOWN,
    }
    assert set(skipped) == set(expected)
    for cid, reason in expected.items():
        assert skipped[cid].startswith(reason.value), (cid, skipped[cid])
    assert {r.value for r in SkipReason} <= {v.split(" ")[0] for v in skipped.values()}
    # off1 and holiday1 would be eligible in working time -> after hours (hold) rather than fallback
    assert d.status is Status.HELD


def test_pto_beats_holiday_and_shift_in_the_reported_reason() -> None:
    c = coord(
        "a",
        "t",
        sched=schedule(LA, holidays=[date(2026, 3, 4)]),
        pto=[(date(2026, 3, 4), date(2026, 3, 4))],
    )
    d = route(lead(), rulebook([c], [rule("r", teams=["t"])]), roster(), WED_10_EST)
    assert [s.detail.split(" ")[0] for s in d.explanation if s.kind == "skipped"] == ["pto"]
    assert d.status is Status.UNROUTABLE  # PTO is not an after-hours case


def test_naive_now_is_rejected() -> None:
    from datetime import datetime

    with pytest.raises(ValueError):
        route(
            lead(),
            rulebook([coord("a", "t")], [rule("r", teams=["t"])]),
            roster(),
            datetime(2026, 3, 4),
        )
