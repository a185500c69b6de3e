"""Time-dependent eligibility of a pool, cached for as long as it cannot change.

Unknown ids, PTO, holidays and shifts only change at interval boundaries and local
midnights, so a pool's snapshot (with its explanation steps, built once) is reused by every
decision whose `now` lies in [computed at, next boundary). Away, previously failed and
capacity are per decision and are checked by the engine on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from routing.calendar import CompiledSchedule, in_ranges, next_change, next_shift_start
from routing.compiled import CCoord, CompiledRulebook
from routing.eligibility import Evaluator
from routing.models import DateRange, Lead, RosterState, SkipReason, Step

# cid, coordinator, static hard reason (unknown / PTO), timing reason, step for the first one
Entry = tuple[str, CCoord | None, SkipReason | None, SkipReason | None, Step | None]
_NO_LEAD = Lead(id="", created_at=datetime(2000, 1, 1, tzinfo=UTC))
_NO_ROSTER = RosterState()


HOLD_HORIZON_DAYS = 14


@dataclass(frozen=True, slots=True)
class PtoDays:
    ranges: tuple[DateRange, ...]

    def __call__(self, day: date) -> bool:
        return in_ranges(day, self.ranges)


def next_start(cc: CCoord, now: datetime) -> datetime | None:
    """When this coordinator next starts working (PTO days and holidays skipped), within
    HOLD_HORIZON_DAYS. Without a schedule (always on shift) only PTO can delay it: the next
    UTC midnight that is not a PTO day; None if not on PTO."""
    blocked = PtoDays(cc.pto) if cc.pto else None
    if cc.schedule is not None:
        return next_shift_start(cc.schedule, now, blocked, HOLD_HORIZON_DAYS)
    if blocked is None:
        return None
    for i in range(1, HOLD_HORIZON_DAYS + 1):
        d = now.date() + timedelta(days=i)
        if not blocked(d):
            return datetime.combine(d, time(0), tzinfo=UTC)
    return None


@dataclass(slots=True, eq=False)
class Snapshot:
    pool: tuple[str, ...]
    members: frozenset[str]
    pool_step: Step
    valid_from: datetime
    valid_until: datetime
    entries: tuple[Entry, ...]
    static_steps: tuple[Step, ...]  # skips that hold for every lead in the window
    open_entries: tuple[tuple[str, int | None], ...]  # (id, capacity) of the others
    timing_entries: tuple[tuple[str, int | None], ...]  # (id, capacity): skipped on time only
    starts: dict[str, datetime | None] = field(default_factory=dict)

    def next_start(self, cid: str, cc: CCoord, now: datetime) -> datetime | None:
        """`next_start`, constant within the snapshot's window (no boundary inside it)."""
        if cid in self.starts:
            return self.starts[cid]
        at = self.starts[cid] = next_start(cc, now)
        return at


def _off_shift_detail(cs: CompiledSchedule, now: datetime) -> str:
    tzname = cs.schedule.timezone
    start = next_shift_start(cs, now)
    if start is None:
        return f"off_shift ({tzname}; no shift within 14 days)"
    return f"off_shift ({tzname}; next shift {start.astimezone(cs.tz):%a %Y-%m-%d %H:%M})"


def _build(cr: CompiledRulebook, pool: tuple[str, ...], now: datetime) -> Snapshot:
    ev = Evaluator(now, _NO_LEAD, _NO_ROSTER)
    until = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    schedules: dict[CompiledSchedule, str] = {}
    entries: list[Entry] = []
    for cid in pool:
        cc = cr.coords.get(cid)
        if cc is None:
            entries.append(
                (
                    cid,
                    None,
                    SkipReason.UNKNOWN,
                    None,
                    Step("skipped", ev.describe(cid, None, SkipReason.UNKNOWN), cid),
                )
            )
            continue
        cs = cc.schedule
        _local, day, timing = ev.state(cs)
        tzname = cs.schedule.timezone if cs is not None else "UTC"
        hard = SkipReason.PTO if cc.pto and in_ranges(day, cc.pto) else None
        step: Step | None = None
        if hard is not None:
            step = Step("skipped", f"pto ({day:%a %Y-%m-%d} in {tzname})", cid)
        elif timing is SkipReason.HOLIDAY:
            step = Step("skipped", f"holiday ({day:%a %Y-%m-%d} in {tzname})", cid)
        elif timing is SkipReason.OFF_SHIFT and cs is not None:
            detail = schedules.get(cs)
            if detail is None:
                detail = schedules[cs] = _off_shift_detail(cs, now)
            step = Step("skipped", detail, cid)
        entries.append((cid, cc, hard, timing, step))
        if cs is not None:
            change = next_change(cs, now)
            if change < until:
                until = change
    return Snapshot(
        pool=pool,
        members=frozenset(pool),
        pool_step=Step("pool", "candidates: " + ", ".join(pool)),
        valid_from=now,
        valid_until=until,
        entries=tuple(entries),
        static_steps=tuple(e[4] for e in entries if e[4] is not None),
        open_entries=tuple(
            (cid, cc.capacity)
            for cid, cc, _h, _t, step in entries
            if cc is not None and step is None
        ),
        timing_entries=tuple(
            (cid, cc.capacity)
            for cid, cc, hard, timing, _s in entries
            if cc is not None and hard is None and timing is not None
        ),
    )


def snapshot(cr: CompiledRulebook, pool: tuple[str, ...], now: datetime) -> Snapshot:
    key = id(pool)  # pools are the rulebook's cached tuples; identity checked below
    snap = cr.snapshots.get(key)
    if snap is None or snap.pool is not pool or not (snap.valid_from <= now < snap.valid_until):
        snap = _build(cr, pool, now)
        cr.snapshots[key] = snap
    return snap
