"""Working time across DST changes, business-hours SLA deadlines, task specs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from routing_builders import LA, NY, coord, hours, lead, roster, rule, rulebook, schedule, utc

from routing import route
from routing.calendar import add_business_time, compile_schedule, next_shift_start, on_shift, zone
from routing.models import (
    AfterHours,
    OnCallRotation,
    Rulebook,
    Schedule,
    SlaClock,
    Status,
    TaskTemplate,
)

NIGHTS = schedule(NY, hours("22:00", "06:00", range(7)))  # every night
DAYS = schedule(NY)
GAP = schedule(NY, hours("02:30", "10:00", [6]))  # Sundays, starts inside the spring-forward gap


def is_on(s: Schedule, at: datetime) -> bool:
    cs = compile_schedule(s)
    return on_shift(cs, at.astimezone(zone(s.timezone)))


ON_SHIFT_CASES = [
    ("09:30 EST before spring-forward is on shift", DAYS, utc(2026, 3, 6, 14, 30), True),
    ("same UTC hour 08:30 EST is off shift", DAYS, utc(2026, 3, 6, 13, 30), False),
    ("after spring-forward 13:30 UTC is 09:30 EDT: on shift", DAYS, utc(2026, 3, 9, 13, 30), True),
    ("after fall-back 13:30 UTC is 08:30 EST: off shift", DAYS, utc(2026, 11, 2, 13, 30), False),
    ("night shift at 05:30 EDT on spring-forward morning", NIGHTS, utc(2026, 3, 8, 9, 30), True),
    (
        "night shift over at 06:30 EDT on spring-forward morning",
        NIGHTS,
        utc(2026, 3, 8, 10, 30),
        False,
    ),
    ("night shift at 05:30 EST on fall-back morning", NIGHTS, utc(2026, 11, 1, 10, 30), True),
    ("night shift over at 06:00 EST on fall-back morning", NIGHTS, utc(2026, 11, 1, 11, 0), False),
    (
        "02:30 start in the gap: 03:00 EDT (first instant after) is on shift",
        GAP,
        utc(2026, 3, 8, 7, 0),
        True,
    ),
    ("02:30 start in the gap: 01:59 EST is off shift", GAP, utc(2026, 3, 8, 6, 59), False),
]


@pytest.mark.parametrize(
    ("sched", "at", "expected"), [c[1:] for c in ON_SHIFT_CASES], ids=[c[0] for c in ON_SHIFT_CASES]
)
def test_on_shift_dst(sched: Schedule, at: datetime, expected: bool) -> None:
    assert is_on(sched, at) is expected


NEXT_START_CASES = [
    (
        "next start Friday evening -> Monday 09:00 EDT across the weekend and DST",
        DAYS,
        utc(2026, 3, 6, 22, 30),
        utc(2026, 3, 9, 13, 0),
    ),
    (
        "next start before fall-back -> Monday 09:00 EST",
        DAYS,
        utc(2026, 10, 30, 22, 0),
        utc(2026, 11, 2, 14, 0),
    ),
    (
        "next start inside the DST gap is the transition instant",
        GAP,
        utc(2026, 3, 8, 5, 0),
        utc(2026, 3, 8, 7, 0),
    ),
    (
        "next night shift on spring-forward evening",
        NIGHTS,
        utc(2026, 3, 8, 12, 0),
        utc(2026, 3, 9, 2, 0),
    ),
]


@pytest.mark.parametrize(
    ("sched", "after", "expected"),
    [c[1:] for c in NEXT_START_CASES],
    ids=[c[0] for c in NEXT_START_CASES],
)
def test_next_shift_start(sched: Schedule, after: datetime, expected: datetime) -> None:
    assert next_shift_start(compile_schedule(sched), after) == expected


BUSINESS_CASES = [
    (
        "business SLA across a night: 10m at 16:55 -> 09:05 next day",
        DAYS,
        utc(2026, 3, 4, 21, 55),
        timedelta(minutes=10),
        utc(2026, 3, 5, 14, 5),
    ),
    (
        "business SLA starting off shift begins at the next shift",
        DAYS,
        utc(2026, 3, 4, 23, 0),
        timedelta(minutes=5),
        utc(2026, 3, 5, 14, 5),
    ),
    (
        "business SLA across a weekend and spring-forward",
        DAYS,
        utc(2026, 3, 6, 21, 50),
        timedelta(minutes=30),
        utc(2026, 3, 9, 13, 20),
    ),
    (
        "business SLA inside the shift is wall time",
        DAYS,
        utc(2026, 3, 4, 15, 0),
        timedelta(hours=2),
        utc(2026, 3, 4, 17, 0),
    ),
    (
        "night shift across spring-forward lasts 7 real hours",
        NIGHTS,
        utc(2026, 3, 8, 3, 0),
        timedelta(hours=8),
        utc(2026, 3, 9, 3, 0),
    ),
    (
        "night shift across fall-back lasts 9 real hours",
        NIGHTS,
        utc(2026, 11, 1, 2, 0),
        timedelta(hours=9, minutes=30),
        utc(2026, 11, 2, 3, 30),
    ),
    (
        "business SLA skips a holiday",
        schedule(NY, holidays=[date(2026, 3, 5)]),
        utc(2026, 3, 4, 21, 55),
        timedelta(minutes=10),
        utc(2026, 3, 6, 14, 5),
    ),
]


@pytest.mark.parametrize(
    ("sched", "start", "sla", "expected"),
    [c[1:] for c in BUSINESS_CASES],
    ids=[c[0] for c in BUSINESS_CASES],
)
def test_business_time(
    sched: Schedule, start: datetime, sla: timedelta, expected: datetime
) -> None:
    assert add_business_time(compile_schedule(sched), start, sla) == expected


def sla_book(clock: SlaClock, sla: timedelta | None = None) -> Rulebook:
    return rulebook(
        [
            coord("a", "t", sched=DAYS, pto=[(date(2026, 3, 5), date(2026, 3, 5))]),
            coord("free", "u"),
        ],
        [
            rule("r", teams=["t"], after_hours=AfterHours.ASSIGN_ANYWAY, sla=sla),
            rule("u", teams=["u"]),
        ],
        sla_clock=clock,
    )


def test_business_sla_routed_skips_the_owners_pto_day() -> None:
    rb = sla_book(SlaClock.BUSINESS, sla=timedelta(minutes=10))
    d = route(lead(), rb, roster(), utc(2026, 3, 4, 21, 55))
    assert d.owner == "a" and d.sla_due == utc(2026, 3, 6, 14, 5)
    assert d.task is not None and d.task.due == d.sla_due
    assert any("business hours of a" in s.detail for s in d.explanation)


def test_wall_sla_is_now_plus_sla() -> None:
    d = route(
        lead(),
        sla_book(SlaClock.WALL, sla=timedelta(minutes=30)),
        roster(),
        utc(2026, 3, 4, 21, 55),
    )
    assert d.sla_due == utc(2026, 3, 4, 22, 25)


@pytest.mark.parametrize(("clock", "due"), [
    (SlaClock.WALL, utc(2026, 3, 4, 22, 0)),  # arrival + 10 min
    (SlaClock.BUSINESS, utc(2026, 3, 4, 22, 0)),  # the 10 working minutes before 22:00
])
def test_a_clock_started_at_arrival_counts_from_it_on_the_rules_clock(
        clock: SlaClock, due: datetime) -> None:
    arrived = utc(2026, 3, 4, 21, 50)  # an email's arrival, routed five minutes later
    d = route(replace(lead(), clock_from=arrived), sla_book(clock, sla=timedelta(minutes=10)),
              roster(), utc(2026, 3, 4, 21, 55))
    assert d.owner == "a" and d.sla_due == due
    assert d.task is not None and d.task.due == due


def test_business_sla_owner_without_schedule_is_wall_clock() -> None:
    rb = rulebook(
        [coord("free", "u")],
        [rule("u", teams=["u"])],
        sla_clock=SlaClock.BUSINESS,
        default_sla=timedelta(hours=1),
    )
    d = route(lead(), rb, roster(), utc(2026, 3, 4, 23, 0))
    assert d.sla_due == utc(2026, 3, 5, 0, 0)
    assert any("owner has no schedule" in s.detail for s in d.explanation)


def test_on_call_sla_runs_on_the_wall_clock() -> None:
    rot = OnCallRotation("n", ("free",), anchor=utc(2026, 1, 1))
    rb = rulebook(
        [coord("a", "t", sched=DAYS), coord("free", sched=DAYS)],
        [rule("r", teams=["t"], after_hours=AfterHours.ON_CALL, on_call="n")],
        rotations=[rot],
        sla_clock=SlaClock.BUSINESS,
    )
    d = route(lead(), rb, roster(), utc(2026, 3, 4, 23, 0))
    assert (d.owner, d.reason) == ("free", "on_call:n")
    assert d.sla_due == utc(2026, 3, 4, 23, 5)


TASK_CASES = [
    (
        "default task subject names the lead and the SLA",
        None,
        timedelta(minutes=5),
        "New lead L1: call within 5m",
        "HIGH",
        "CALL",
    ),
    (
        "rule SLA shown human-readable",
        None,
        timedelta(hours=1, minutes=30),
        "New lead L1: call within 1h30m",
        "HIGH",
        "CALL",
    ),
    (
        "rule task template with owner and rule",
        TaskTemplate("{rule}: {owner} calls {lead_id} in {sla}", "LOW", "EMAIL"),
        None,
        "r: a calls L1 in 5m",
        "LOW",
        "EMAIL",
    ),
    (
        "template cannot pull other lead attributes",
        TaskTemplate("Call {insurance} {lead_id.__class__} {0}"),
        None,
        "Call {insurance} {lead_id.__class__} {0}",
        "HIGH",
        "CALL",
    ),
    (
        "template with stray braces is kept literally",
        TaskTemplate("Call {lead_id"),
        None,
        "Call {lead_id",
        "HIGH",
        "CALL",
    ),
]


@pytest.mark.parametrize(
    ("template", "sla", "subject", "priority", "type_"),
    [c[1:] for c in TASK_CASES],
    ids=[c[0] for c in TASK_CASES],
)
def test_task_spec(
    template: TaskTemplate | None, sla: timedelta | None, subject: str, priority: str, type_: str
) -> None:
    rb = rulebook([coord("a", "t")], [rule("r", teams=["t"], sla=sla, task=template)])
    d = route(lead(insurance="medicaid"), rb, roster(), utc(2026, 3, 4, 15, 0))
    assert d.task is not None
    assert (d.task.subject, d.task.priority, d.task.type) == (subject, priority, type_)
    assert d.task.due == d.sla_due


def test_la_holiday_hold_release_in_local_time() -> None:
    rb = rulebook(
        [coord("a", "t", sched=schedule(LA, holidays=[date(2026, 3, 5)]))], [rule("r", teams=["t"])]
    )
    d = route(lead(), rb, roster(), utc(2026, 3, 5, 2, 0))  # Wed 18:00 PST
    assert d.status is Status.HELD and d.release_at == utc(2026, 3, 6, 17, 0)  # Fri 09:00 PST
