"""Working-time arithmetic in a coordinator's own time zone (zoneinfo, DST-correct).

A schedule is compiled once into per-weekday *segments* of local wall time that never cross
midnight: an overnight window (start > end, e.g. 22:00-06:00) becomes `(22:00, midnight)` on
its weekday plus `(00:00, 06:00)` on the next one; `end == time.max` (24:00) and `end ==
00:00` both mean "until midnight". A window with `start == end` is empty.

Two views of the same data:
* `on_shift` compares the local wall clock with the segments (used for "is X working now").
* `day_intervals` turns the segments of one local date into UTC instants (used for the next
  shift start and business-time SLAs). Durations are computed in UTC, so a night shift across
  the spring-forward change lasts one hour less than on other nights. A boundary that falls
  in a DST gap (a wall time that does not exist) is the first instant the wall clock reaches
  it, i.e. the transition itself; an ambiguous one (fall back) is its first occurrence.

Holidays (and PTO days, passed in as `blocked`) remove whole local dates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from routing.models import DateRange, Schedule

MIDNIGHT = time(0)
ONE_DAY = timedelta(days=1)
Segment = tuple[time, time | None]  # end None = until midnight
Interval = tuple[datetime, datetime]  # UTC, half-open
Blocked = Callable[[date], bool]


@cache
def zone(name: str) -> ZoneInfo:
    """Cached ZoneInfo (ZoneInfo has its own cache, but the lookup is not free)."""
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: cheap cache key
class CompiledSchedule:
    schedule: Schedule
    tz: ZoneInfo
    segments: tuple[tuple[Segment, ...], ...]  # indexed by weekday, sorted by start
    holidays: frozenset[date]


@lru_cache(maxsize=1024)
def compile_schedule(schedule: Schedule) -> CompiledSchedule:
    days: list[list[Segment]] = [[] for _ in range(7)]
    for window in schedule.hours:
        start, end = window.start, window.end
        for wd in window.weekdays:
            if end == time.max or end == MIDNIGHT:
                if start != MIDNIGHT or end == time.max:
                    days[wd].append((start, None))
            elif end > start:
                days[wd].append((start, end))
            elif end < start:  # overnight
                days[wd].append((start, None))
                days[(wd + 1) % 7].append((MIDNIGHT, end))
    return CompiledSchedule(
        schedule=schedule,
        tz=zone(schedule.timezone),
        segments=tuple(tuple(sorted(d, key=lambda s: s[0])) for d in days),
        holidays=schedule.holidays,
    )


def on_shift(cs: CompiledSchedule, local: datetime) -> bool:
    """Is the wall time `local` (already in the schedule's zone) inside a window?"""
    t = local.time()
    for start, end in cs.segments[local.weekday()]:
        if start <= t and (end is None or t < end):
            return True
    return False


def in_ranges(day: date, ranges: tuple[DateRange, ...]) -> bool:
    return any(r.start <= day <= r.end for r in ranges)


def localize(day: date, t: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in `tz` first shows `day t`."""
    naive = datetime.combine(day, t)
    utc = naive.replace(tzinfo=tz).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc  # exists (fold=0: first occurrence when ambiguous)
    # In a DST gap: bisect for the transition instant (rare path, microsecond exact).
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = utc
    if lo > hi:
        lo, hi = hi, lo
    step = timedelta(microseconds=1)
    while hi - lo > step:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


@lru_cache(maxsize=8192)
def day_intervals(cs: CompiledSchedule, day: date) -> tuple[Interval, ...]:
    """Working intervals (UTC) of one local date; none on a holiday."""
    if day in cs.holidays:
        return ()
    out: list[Interval] = []
    for start, end in cs.segments[day.weekday()]:
        s = localize(day, start, cs.tz)
        e = localize(day + ONE_DAY, MIDNIGHT, cs.tz) if end is None else localize(day, end, cs.tz)
        if e > s:
            out.append((s, e))
    return tuple(out)


def next_shift_start(
    cs: CompiledSchedule, after: datetime, blocked: Blocked | None = None, horizon_days: int = 14
) -> datetime | None:
    """Earliest working-interval start strictly after `after` (UTC), skipping blocked dates."""
    first = after.astimezone(cs.tz).date()
    for i in range(horizon_days + 1):
        day = first + timedelta(days=i)
        if blocked is not None and blocked(day):
            continue
        for start, _end in day_intervals(cs, day):
            if start > after:
                return start
    return None


def add_business_time(
    cs: CompiledSchedule,
    start: datetime,
    duration: timedelta,
    blocked: Blocked | None = None,
    horizon_days: int = 60,
) -> datetime | None:
    """`start` + `duration` counting only working intervals; None if the horizon runs out."""
    remaining = duration
    cursor = start
    first = start.astimezone(cs.tz).date() - ONE_DAY
    for i in range(horizon_days + 2):
        day = first + timedelta(days=i)
        if blocked is not None and blocked(day):
            continue
        for s, e in day_intervals(cs, day):
            if e <= cursor:
                continue
            begin = s if s > cursor else cursor
            available = e - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
            cursor = e
    return None


def next_change(cs: CompiledSchedule, now: datetime) -> datetime:
    """The first instant after `now` (UTC) at which on-shift state or the local date may
    change: an interval start or end, or local midnight."""
    day = now.astimezone(cs.tz).date()
    best = localize(day + ONE_DAY, MIDNIGHT, cs.tz)
    for d in (day - ONE_DAY, day, day + ONE_DAY):
        for s, e in day_intervals(cs, d):
            if now < s < best:
                best = s
            if now < e < best:
                best = e
    return best
