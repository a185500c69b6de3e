"""After hours: hold for the next shift, on-call rotation, assign anyway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from routing_builders import NY, coord, hours, lead, roster, rule, rulebook, schedule, utc

from routing import route
from routing.models import AfterHours, Coordinator, OnCallRotation, RosterState, Schedule, Status

NY_DAY = schedule(NY)  # Mon-Fri 09:00-17:00 New York
FRI_1730_EST = utc(2026, 3, 6, 22, 30)  # weekend ahead; DST starts Sun 2026-03-08
MON_0900_EDT = utc(2026, 3, 9, 13, 0)
WED_2300_UTC = utc(2026, 3, 4, 23, 0)  # Wed 18:00 New York: after hours
ROTATION = OnCallRotation(
    "nights", ("x", "y", "z"), anchor=utc(2026, 3, 2, 0, 0), period=timedelta(days=1)
)


def team(
    *extra: Coordinator, sched: Schedule = NY_DAY, capacity: int | None = None
) -> list[Coordinator]:
    base = [coord(c, "t", sched=sched, capacity=capacity) for c in "ab"]
    return [*base, *extra]


@dataclass
class Case:
    id: str
    coordinators: list[Coordinator]
    after_hours: AfterHours
    now: datetime
    expect_status: Status
    expect_owner: str | None = None
    expect_reason: str | None = None
    expect_release: datetime | None = None
    roster: RosterState = field(default_factory=roster)
    fallback: str | None = None
    explain: tuple[str, ...] = ()


ONCALL = [coord("x"), coord("y"), coord("z")]
CASES = [
    Case(
        "hold until the next shift start across a weekend (and the DST change)",
        team(),
        AfterHours.HOLD,
        FRI_1730_EST,
        Status.HELD,
        expect_reason="held:after_hours",
        expect_release=MON_0900_EDT,
        explain=("held until 2026-03-09T13:00:00+00:00",),
    ),
    Case(
        "hold: release is the earliest start among the pool",
        team(coord("c", "t", sched=schedule(NY, hours("07:30", "12:00")))),
        AfterHours.HOLD,
        FRI_1730_EST,
        Status.HELD,
        expect_release=utc(2026, 3, 9, 11, 30),
    ),
    Case(
        "hold: the next morning on a weekday",
        team(),
        AfterHours.HOLD,
        WED_2300_UTC,
        Status.HELD,
        expect_release=utc(2026, 3, 5, 14, 0),
    ),
    Case(
        "hold skips a holiday",
        team(sched=schedule(NY, holidays=[date(2026, 3, 9)])),
        AfterHours.HOLD,
        FRI_1730_EST,
        Status.HELD,
        expect_release=utc(2026, 3, 10, 13, 0),
    ),
    Case(
        "hold skips PTO days of a coordinator",
        [
            coord("a", "t", sched=NY_DAY, pto=[(date(2026, 3, 9), date(2026, 3, 10))]),
            coord("b", "t", sched=schedule(NY, hours("10:00", "18:00"))),
        ],
        AfterHours.HOLD,
        utc(2026, 3, 6, 23, 30),
        Status.HELD,
        expect_release=utc(2026, 3, 9, 14, 0),
    ),
    Case(
        "hold ignores away coordinators for the release time",
        team(coord("c", "t", sched=schedule(NY, hours("06:00", "12:00")))),
        AfterHours.HOLD,
        FRI_1730_EST,
        Status.HELD,
        roster=roster(away=["c"]),
        expect_release=MON_0900_EDT,
    ),
    Case(
        "hold with no shift start within 14 days -> fallback",
        [
            coord(
                "a",
                "t",
                sched=schedule(
                    NY,
                    hours("09:00", "17:00", [5]),  # Saturdays only
                    holidays=[date(2026, 3, 14), date(2026, 3, 21)],
                ),
            ),
            coord("f"),
        ],
        AfterHours.HOLD,
        utc(2026, 3, 7, 23, 0),
        Status.ASSIGNED,
        expect_owner="f",
        fallback="f",
        expect_reason="fallback:rule",
        roster=roster(),
        explain=(),
    ),
    Case(
        "not after hours when the off-shift ones are at capacity -> fallback",
        team(coord("f"), capacity=2),
        AfterHours.HOLD,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="f",
        roster=roster({"a": 2, "b": 2}),
        fallback="f",
        expect_reason="fallback:rule",
        explain=("not an after-hours case",),
    ),
    Case(
        "not after hours when the off-shift ones are away -> unroutable",
        team(),
        AfterHours.HOLD,
        WED_2300_UTC,
        Status.UNROUTABLE,
        roster=roster(away=["a", "b"]),
        expect_reason="no_eligible_coordinator",
    ),
    Case(
        "on call: the rotation's current person (day 2 -> z)",
        team(*ONCALL),
        AfterHours.ON_CALL,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="z",
        expect_reason="on_call:nights",
        explain=("nights: z on call",),
    ),
    Case(
        "on call: handoff at the period boundary (day 3 -> x)",
        team(*ONCALL),
        AfterHours.ON_CALL,
        utc(2026, 3, 5, 0, 0),
        Status.ASSIGNED,
        expect_owner="x",
    ),
    Case(
        "on call: one microsecond before the handoff is still z",
        team(*ONCALL),
        AfterHours.ON_CALL,
        utc(2026, 3, 4, 23, 59, 59, 999999),
        Status.ASSIGNED,
        expect_owner="z",
    ),
    Case(
        "on call: before the anchor the rotation runs backwards",
        team(*ONCALL),
        AfterHours.ON_CALL,
        utc(2026, 3, 1, 23, 0),
        Status.ASSIGNED,
        expect_owner="z",
    ),
    Case(
        "on call person on PTO -> next in rotation",
        team(coord("x"), coord("y"), coord("z", pto=[(date(2026, 3, 4), date(2026, 3, 4))])),
        AfterHours.ON_CALL,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="x",
        explain=("z skipped: pto", "next in rotation"),
    ),
    Case(
        "on call person away and next at capacity -> the one after",
        team(coord("x", capacity=1), coord("y"), coord("z")),
        AfterHours.ON_CALL,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="y",
        roster=roster({"x": 1}, away=["z"]),
        explain=("x skipped: at_capacity",),
    ),
    Case(
        "nobody in the rotation can take it -> fallback",
        team(*ONCALL, coord("f")),
        AfterHours.ON_CALL,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="f",
        roster=roster(away=["x", "y", "z"]),
        fallback="f",
        expect_reason="fallback:rule",
        explain=("nobody in the rotation",),
    ),
    Case(
        "assign anyway ignores working hours",
        team(),
        AfterHours.ASSIGN_ANYWAY,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="a",
        expect_reason="assign_anyway:round_robin",
    ),
    Case(
        "assign anyway still respects PTO",
        team(coord("c", "t", sched=NY_DAY, pto=[(date(2026, 3, 4), date(2026, 3, 4))])),
        AfterHours.ASSIGN_ANYWAY,
        WED_2300_UTC,
        Status.ASSIGNED,
        expect_owner="b",
        roster=roster(last={"r": "a"}),
    ),
    Case(
        "assign anyway ignores holidays",
        team(sched=schedule(NY, holidays=[date(2026, 3, 4)])),
        AfterHours.ASSIGN_ANYWAY,
        utc(2026, 3, 4, 15, 0),
        Status.ASSIGNED,
        expect_owner="a",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_after_hours(case: Case) -> None:
    r = rule(
        "r", teams=["t"], after_hours=case.after_hours, on_call="nights", fallback=case.fallback
    )
    rb = rulebook(case.coordinators, [r], rotations=[ROTATION])
    d = route(lead(), rb, case.roster, case.now)
    assert d.status is case.expect_status
    assert d.owner == case.expect_owner
    if case.expect_reason:
        assert d.reason == case.expect_reason
    if case.expect_status is Status.HELD:
        assert d.release_at == case.expect_release
        assert d.release_at is not None and d.release_at > case.now
        assert d.task is None and d.sla_due is None and d.pointer is None
    text = "\n".join(s.detail for s in d.explanation)
    for fragment in case.explain:
        assert fragment in text


def test_held_lead_routes_normally_at_its_release_time() -> None:
    rb = rulebook(team(), [rule("r", teams=["t"])])
    held = route(lead(), rb, roster(), FRI_1730_EST)
    assert held.status is Status.HELD and held.release_at is not None
    again = route(lead(), rb, roster(), held.release_at)
    assert (again.status, again.owner) == (Status.ASSIGNED, "a")


def test_missing_rotation_falls_back() -> None:
    r = rule("r", teams=["t"], after_hours=AfterHours.ON_CALL, on_call="nope", fallback="f")
    d = route(lead(), rulebook(team(coord("f")), [r]), roster(), WED_2300_UTC)
    assert (d.owner, d.reason) == ("f", "fallback:rule")
    assert any("no usable on-call rotation" in s.detail for s in d.explanation)
