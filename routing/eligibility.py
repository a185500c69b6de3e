"""Who may take a lead right now, and why not.

Checks, in reporting order: unknown id, previously failed this lead, away, PTO (local date
in the schedule's zone, UTC without a schedule), holiday (local date), off shift, at capacity
(`open_counts[id] >= capacity`). They are split into three groups so that the after-hours
logic can ask "would this coordinator be eligible if it were working time?":

* hard:   unknown / previously failed / away / PTO
* timing: holiday / off shift
* capacity

One `Evaluator` serves one decision: it computes each time zone's local time, and each
schedule's on-shift state, at most once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from routing.calendar import CompiledSchedule, in_ranges, on_shift
from routing.compiled import CCoord
from routing.models import Lead, RosterState, SkipReason

Assessment = tuple[SkipReason | None, SkipReason | None, bool]  # hard, timing, at capacity
UNKNOWN: Assessment = (SkipReason.UNKNOWN, None, False)

_FIXED = {
    SkipReason.UNKNOWN: "unknown_coordinator (not in the roster)",
    SkipReason.PREVIOUSLY_FAILED: "previously_failed (already failed this lead)",
    SkipReason.AWAY: "away (marked away)",
}


def reason_of(a: Assessment) -> SkipReason | None:
    """The reported skip reason: hard first, then timing, then capacity."""
    hard, timing, at_cap = a
    if hard is not None:
        return hard
    if timing is not None:
        return timing
    return SkipReason.AT_CAPACITY if at_cap else None


def eligible_ignoring_time(a: Assessment) -> bool:
    return a[0] is None and not a[2]


def now_utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("routing needs an aware datetime for `now`")
    return now.astimezone(UTC)


class Evaluator:
    __slots__ = ("_details", "_sched", "away", "excluded", "now", "open_counts")

    def __init__(self, now: datetime, lead: Lead, roster: RosterState) -> None:
        self.now = now  # UTC
        self.excluded = lead.excluded
        self.away = roster.away
        self.open_counts = roster.open_counts
        # schedule (None = no schedule) -> (local time, local date, timing reason)
        self._sched: dict[CompiledSchedule | None, tuple[datetime, date, SkipReason | None]] = {}
        self._details: dict[tuple[SkipReason, CompiledSchedule | None], str] = {}

    def local(self, tz: ZoneInfo | None) -> datetime:
        return self.now if tz is None else self.now.astimezone(tz)

    def state(self, cs: CompiledSchedule | None) -> tuple[datetime, date, SkipReason | None]:
        hit = self._sched.get(cs)
        if hit is None:
            if cs is None:
                hit = (self.now, self.now.date(), None)
            else:
                local = self.now.astimezone(cs.tz)
                day = local.date()
                timing: SkipReason | None = None
                if day in cs.holidays:
                    timing = SkipReason.HOLIDAY
                elif not on_shift(cs, local):
                    timing = SkipReason.OFF_SHIFT
                hit = (local, day, timing)
            self._sched[cs] = hit
        return hit

    def assess(self, cid: str, cc: CCoord | None) -> Assessment:
        if cc is None:
            return UNKNOWN
        hard: SkipReason | None = None
        if self.excluded and cid in self.excluded:
            hard = SkipReason.PREVIOUSLY_FAILED
        elif self.away and cid in self.away:
            hard = SkipReason.AWAY
        _local, day, timing = self.state(cc.schedule)
        if hard is None and cc.pto and in_ranges(day, cc.pto):
            hard = SkipReason.PTO
        cap = cc.capacity
        return hard, timing, cap is not None and self.open_counts.get(cid, 0) >= cap

    def describe(self, cid: str, cc: CCoord | None, reason: SkipReason) -> str:
        """Human detail for a skip; starts with the reason value so trails can be grepped."""
        fixed = _FIXED.get(reason)
        if fixed is not None:
            return fixed
        if cc is None:
            return str(reason)
        if reason is SkipReason.AT_CAPACITY:
            return f"at_capacity ({self.open_counts.get(cid, 0)}/{cc.capacity} open leads)"
        key = (reason, cc.schedule)
        hit = self._details.get(key)
        if hit is None:
            local = self.state(cc.schedule)[0]
            tzname = cc.schedule.schedule.timezone if cc.schedule is not None else "UTC"
            hit = f"{reason} (local time {local:%a %Y-%m-%d %H:%M} {tzname})"
            self._details[key] = hit
        return hit
