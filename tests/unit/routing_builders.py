"""Tiny builders for routing test tables: rulebooks straight from the dataclasses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

from routing.models import (
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
    TaskTemplate,
    WorkingHours,
)

WEEKDAYS = frozenset(range(5))
ALL_DAYS = frozenset(range(7))
NY = "America/New_York"
LA = "America/Los_Angeles"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def hours(start: str, end: str, days: Iterable[int] = WEEKDAYS) -> WorkingHours:
    def parse(s: str) -> time:
        return time.max if s == "24:00" else time.fromisoformat(s)

    return WorkingHours(frozenset(days), parse(start), parse(end))


def schedule(
    tz: str = NY,
    *windows: WorkingHours,
    holidays: Iterable[date] = (),
    name: str = "s",
) -> Schedule:
    return Schedule(name, tz, windows or (hours("09:00", "17:00"),), frozenset(holidays))


def coord(
    cid: str,
    *teams: str,
    capacity: int | None = None,
    weight: int = 1,
    sched: Schedule | None = None,
    pto: Iterable[tuple[date, date]] = (),
    facility: str | None = None,
) -> Coordinator:
    return Coordinator(
        id=cid,
        crm_owner_id=f"o-{cid}",
        teams=frozenset(teams),
        capacity=capacity,
        weight=weight,
        schedule=sched,
        pto=tuple(DateRange(a, b) for a, b in pto),
        facility=facility,
    )


def when(**conds: object) -> tuple[Condition, ...]:
    """when(insurance=["commercial"], zip=("prefix", ["941"]), email=("absent",))"""
    out = []
    for attr, spec in conds.items():
        if isinstance(spec, tuple):
            op, *rest = spec
            values = rest[0] if rest else ()
        else:
            op, values = "in", spec
        if isinstance(values, str):
            values = [values]
        out.append(Condition(attr, Op(op), tuple(str(v).strip().lower() for v in values)))
    return tuple(out)


def rule(
    name: str,
    conditions: tuple[Condition, ...] = (),
    *,
    teams: Iterable[str] = (),
    coordinators: Iterable[str] = (),
    nearest: bool = False,
    strategy: Strategy = Strategy.ROUND_ROBIN,
    sla: timedelta | None = None,
    after_hours: AfterHours = AfterHours.HOLD,
    on_call: str | None = None,
    fallback: str | None = None,
    task: TaskTemplate | None = None,
) -> Rule:
    return Rule(
        name=name,
        conditions=conditions,
        pool=Pool(frozenset(teams), tuple(coordinators), nearest),
        strategy=strategy,
        sla=sla,
        after_hours=after_hours,
        on_call=on_call,
        fallback=fallback,
        task=task,
    )


def rulebook(
    coordinators: Iterable[Coordinator],
    rules: Iterable[Rule],
    *,
    facilities: Iterable[Facility] = (),
    rotations: Iterable[OnCallRotation] = (),
    fallback_owner: str | None = None,
    default_sla: timedelta = timedelta(minutes=5),
    sla_clock: SlaClock = SlaClock.WALL,
    task: TaskTemplate | None = None,
) -> Rulebook:
    return Rulebook(
        coordinators=MappingProxyType({c.id: c for c in coordinators}),
        rules=tuple(rules),
        facilities=MappingProxyType({f.id: f for f in facilities}),
        rotations=MappingProxyType({r.name: r for r in rotations}),
        fallback_owner=fallback_owner,
        default_sla=default_sla,
        sla_clock=sla_clock,
        task=task or TaskTemplate(),
    )


def facility(fid: str, lat: float, lon: float, *levels: str) -> Facility:
    return Facility(fid, GeoPoint(lat, lon), frozenset(levels))


def lead(
    lid: str = "L1",
    *,
    at: datetime | None = None,
    location: tuple[float, float] | None = None,
    previous_owner: str | None = None,
    excluded: Iterable[str] = (),
    **attributes: str,
) -> Lead:
    return Lead(
        id=lid,
        created_at=at or utc(2026, 3, 4, 15, 0),
        attributes=MappingProxyType(dict(attributes)),
        location=GeoPoint(*location) if location else None,
        previous_owner=previous_owner,
        excluded=frozenset(excluded),
    )


def roster(
    open_counts: Mapping[str, int] | None = None,
    last: Mapping[str, str] | None = None,
    weights: Mapping[str, Mapping[str, int]] | None = None,
    away: Iterable[str] = (),
) -> RosterState:
    return RosterState(
        open_counts=MappingProxyType(dict(open_counts or {})),
        last_assigned=MappingProxyType(dict(last or {})),
        weights=MappingProxyType(dict(weights or {})),
        away=frozenset(away),
    )
