"""Builds the routing `Rulebook` from the validated TOML: coordinators, schedules, rules."""

from __future__ import annotations

import contextlib
import re
import string
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from routing.models import (
    AfterHours,
    Coordinator,
    DateRange,
    Facility,
    OnCallRotation,
    Pool,
    Rule,
    Rulebook,
    Schedule,
    SlaClock,
    Strategy,
    TaskTemplate,
    WorkingHours,
)
from sync.config.conditions import build_conditions
from sync.config.reader import Section, format_duration, shown
from sync.zip_lookup import locate_zip

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
# holidays are expanded into plain dates once, for every year a lead could plausibly carry
HOLIDAY_YEARS = range(2015, 2041)
_PRIORITIES = ("HIGH", "MEDIUM", "LOW")
_TASK_FIELDS = {"lead_id", "rule", "sla", "owner"}
# Bounds (documented in config.example.toml). Dates and date-times routing compares or
# shifts must stay far from year 1 and 9999, where converting a time zone or adding a
# period overflows; SLAs past a month are not response deadlines.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
MIN_SLA, MAX_SLA = timedelta(seconds=1), timedelta(days=30)
MIN_PERIOD, MAX_PERIOD = timedelta(hours=1), timedelta(days=366)
MAX_CAPACITY = 10_000
MAX_WEIGHT = 1_000


def parse_days(text: str) -> frozenset[int]:
    """`"mon-fri"`, `"sat,sun"`, `"mon-wed,fri"`, `"daily"` -> weekday numbers (0 = Monday)."""
    text = text.strip().lower()
    if text in ("daily", "every day", "all"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        ends = [piece.strip()[:3] for piece in part.split("-")]
        if len(ends) > 2 or any(end not in _DAYS for end in ends):
            raise ValueError(f'"{text}" is not a day list like "mon-fri" or "sat,sun"')
        first, last = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.update(span)
    return frozenset(days)


def parse_clock(text: str) -> time:
    if not isinstance(text, str) or not _CLOCK.match(text.strip()):
        raise ValueError(f'"{text}" is not a time like "08:00" or "24:00"')
    if text.strip() == "24:00":
        return time.max
    hour, minute = text.strip().split(":")
    return time(int(hour), int(minute))


def parse_date(value: Any) -> date:
    """A TOML date or an ISO date string between FIRST_DAY and LAST_DAY; ValueError else."""
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value.strip())
    if day is None:
        raise ValueError(f"{shown(value)} is not a date like 2026-12-24")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def build_schedules(root: Section) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = {}
    for name, section in root.each_table("schedules"):
        tz_name = section.text("timezone", required=True)
        if tz_name:
            try:
                ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError):
                section.error("timezone", f'"{tz_name}" is not an IANA time zone')
                tz_name = "UTC"
        hours: list[WorkingHours] = []
        for window in section.tables("hours"):
            days = window.check("days", lambda v: parse_days(str(v)), frozenset[int]())
            if not window.has("days"):
                window.error("days", "is required")
            start = window.check("start", parse_clock, time(0))
            end = window.check("end", parse_clock, time.max)
            for key in ("start", "end"):
                if not window.has(key):
                    window.error(key, "is required")
            if end <= start:
                window.error("end", "must be after start (split a night shift into two windows)")
            window.finish()
            hours.append(WorkingHours(days, start, end))
        if not hours:
            section.error("hours", "needs at least one window, e.g. { days = \"mon-fri\", "
                          "start = \"08:00\", end = \"18:00\" }")
        days_off = _holidays(section)
        section.finish()
        schedules[name] = Schedule(name, tz_name or "UTC", tuple(hours), frozenset(days_off))
    return schedules


def _holidays(section: Section) -> set[date]:
    days: set[date] = set()
    country = section.text("holidays")
    subdivision = section.opt_text("holidays_subdivision")
    if country:
        try:
            days.update(holidays_lib.country_holidays(country, subdiv=subdivision,
                                                      years=HOLIDAY_YEARS))
        except NotImplementedError as exc:
            section.error("holidays", str(exc))
    elif subdivision:
        section.error("holidays_subdivision", "needs `holidays` (a country code) too")
    for index, value in enumerate(section.str_list("extra_holidays")):
        try:
            days.add(parse_date(value))
        except ValueError as exc:
            section.error(f"extra_holidays[{index}]", str(exc))
    return days


def build_facilities(root: Section) -> dict[str, Facility]:
    facilities: dict[str, Facility] = {}
    for section in root.tables("facilities"):
        ident = section.text("id", required=True)
        zip_code = section.text("zip", required=True)
        location = locate_zip(zip_code) if zip_code else None
        if zip_code and location is None:
            section.error("zip", f'"{zip_code}" is not a known US ZIP code')
        levels = frozenset(v.lower() for v in section.str_list("levels_of_care"))
        section.text("name")
        section.finish()
        if ident in facilities:
            section.error("id", f'"{ident}" is used by another facility')
        if ident and location is not None:
            facilities[ident] = Facility(ident, location, levels)
    return facilities


def build_coordinators(root: Section, schedules: Mapping[str, Schedule],
                       facilities: Mapping[str, Facility]) -> dict[str, Coordinator]:
    coordinators: dict[str, Coordinator] = {}
    for section in root.tables("coordinators"):
        ident = section.text("id", required=True)
        if ident and not _ID.match(ident):
            section.error("id", f'"{ident}" may use only letters, digits, "_", "-" and "."')
        owner_id = section.opt_text("crm_owner_id")
        email = section.opt_text("email")
        if not owner_id and not email:
            section.error(None, "needs crm_owner_id or email to find the CRM owner")
        schedule_name = section.opt_text("schedule")
        schedule = schedules.get(schedule_name) if schedule_name else None
        if schedule_name and schedule is None:
            section.error("schedule", f'no schedule is named "{schedule_name}"')
        facility = section.opt_text("facility")
        if facility and facility not in facilities:
            section.error("facility", f'no facility has id "{facility}"')
        pto: list[DateRange] = []
        for index, value in enumerate(_pto_entries(section)):
            try:
                start, end = parse_date(value.get("from")), parse_date(value.get("to"))
            except (ValueError, AttributeError) as exc:
                section.error(f"pto[{index}]", f"{exc}; write {{ from = 2026-12-24, to = ... }}")
                continue
            if end < start:
                section.error(f"pto[{index}]", "ends before it starts")
            pto.append(DateRange(start, end))
        coordinator = Coordinator(
            id=ident,
            crm_owner_id=owner_id,
            email=email,
            teams=frozenset(t.lower() for t in section.str_list("teams")),
            capacity=section.integer("capacity", minimum=0, maximum=MAX_CAPACITY),
            weight=section.integer("weight", 1, minimum=1, maximum=MAX_WEIGHT) or 1,
            schedule=schedule,
            pto=tuple(pto),
            facility=facility,
        )
        section.text("name")  # display name; never sent to logs alongside lead data
        section.finish()
        if ident in coordinators:
            section.error("id", f'"{ident}" is used by another coordinator')
        elif ident:
            coordinators[ident] = coordinator
    return coordinators


def _pto_entries(section: Section) -> list[dict[str, Any]]:
    value = section.raw("pto")
    if not isinstance(value, list):
        if value is not None and section.has("pto"):
            section.error("pto", "must be a list of { from = ..., to = ... } tables")
        return []
    entries = []
    for index, item in enumerate(value):
        if isinstance(item, dict) and set(item) <= {"from", "to"}:
            entries.append(item)
        else:
            section.error(f"pto[{index}]", "must be { from = 2026-12-24, to = 2026-12-31 }")
    return entries


def build_rotations(root: Section, coordinators: Mapping[str, Coordinator]
                    ) -> dict[str, OnCallRotation]:
    rotations: dict[str, OnCallRotation] = {}
    for section in root.tables("on_call"):
        name = section.text("name", required=True)
        members = section.str_list("coordinators", required=True)
        for member in members:
            if member not in coordinators:
                section.error("coordinators", f'no coordinator has id "{member}"')
        anchor = section.raw("starts")
        if not isinstance(anchor, datetime) or anchor.tzinfo is None:
            section.error("starts", "must be a date-time with offset, e.g. "
                          "2026-01-05T18:00:00-08:00")
            anchor = datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC"))
        elif not FIRST_DAY <= anchor.date() <= LAST_DAY:
            section.error("starts", f"must be between {FIRST_DAY} and {LAST_DAY}")
            anchor = datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC"))
        period = section.span("period", "7d", minimum=MIN_PERIOD, maximum=MAX_PERIOD)
        section.finish()
        if not members:
            section.error("coordinators", "needs at least one coordinator")
        elif name:
            rotations[name] = OnCallRotation(name, members, anchor, period)
    return rotations


def build_task(section: Section | None, default: TaskTemplate) -> TaskTemplate | None:
    if section is None:
        return None
    if not section.has("subject"):
        subject = default.subject
        names: set[str] = set()
    else:
        subject = section.text("subject", default.subject)
        names = _template_fields(section, subject)
    priority = section.text("priority", default.priority, choices=_PRIORITIES)
    kind = section.text("type", default.type, choices=("CALL", "EMAIL", "TODO"))
    section.finish()
    if names - _TASK_FIELDS:
        return default
    return TaskTemplate(subject, priority, kind)


def _template_fields(section: Section, subject: str) -> set[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(subject) if name}
    except ValueError as exc:
        section.error("subject", f"is not a valid template: {exc}")
        names = set()
    if names - _TASK_FIELDS:
        section.error("subject", f"may use only {{{'}, {'.join(sorted(_TASK_FIELDS))}}}: "
                      "lead details are PHI and stay out of the CRM task subject")
    return names


def build_rules(root: Section, fields: Mapping[str, str],
                coordinators: Mapping[str, Coordinator],
                rotations: Mapping[str, OnCallRotation],
                facilities: Mapping[str, Facility], task: TaskTemplate) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    names: set[str] = set()
    teams = {team for c in coordinators.values() for team in c.teams}
    for section in root.tables("rules"):
        name = section.text("name", required=True)
        if name in names:
            section.error("name", f'"{name}" is used by another rule')
        names.add(name)
        conditions = build_conditions(section, fields)
        pool = _pool(section, coordinators, teams, facilities)
        strategy = Strategy(section.text("strategy", "round_robin",
                                        choices=tuple(s.value for s in Strategy)))
        after_hours = AfterHours(section.text("after_hours", "hold",
                                             choices=tuple(a.value for a in AfterHours)))
        on_call = section.opt_text("on_call")
        if on_call and on_call not in rotations:
            section.error("on_call", f'no on_call rotation is named "{on_call}"')
        if after_hours is AfterHours.ON_CALL and not on_call:
            section.error("on_call", 'is required when after_hours = "on_call"')
        fallback = section.opt_text("fallback")
        if fallback and fallback not in coordinators:
            section.error("fallback", f'no coordinator has id "{fallback}"')
        rules.append(Rule(
            name=name, conditions=conditions, pool=pool, strategy=strategy,
            sla=section.duration("sla", None, minimum=MIN_SLA, maximum=MAX_SLA),
            after_hours=after_hours, on_call=on_call,
            fallback=fallback, task=build_task(section.table("task"), task),
        ))
        section.finish()
    if not rules:
        root.error("rules", "at least one [[rules]] table is required")
    return tuple(rules)


def _pool(rule: Section, coordinators: Mapping[str, Coordinator], teams: set[str],
          facilities: Mapping[str, Facility]) -> Pool:
    section = rule.table("pool", required=True)
    if section is None:
        return Pool()
    pool_teams = frozenset(t.lower() for t in section.str_list("teams", allow_single=True))
    members = section.str_list("coordinators")
    nearest = section.flag("nearest_facility", False)
    section.finish()
    for team in sorted(pool_teams - teams):
        section.error("teams", f'no coordinator is in team "{team}"')
    for member in members:
        if member not in coordinators:
            section.error("coordinators", f'no coordinator has id "{member}"')
    if not pool_teams and not members and not nearest:
        section.error(None, "needs teams, coordinators or nearest_facility = true")
    if nearest and not facilities:
        section.error("nearest_facility", "needs at least one [[facilities]] table")
    return Pool(pool_teams, members, nearest)


def build_rulebook(root: Section, fields: Mapping[str, str]) -> Rulebook:
    schedules = build_schedules(root)
    facilities = build_facilities(root)
    coordinators = build_coordinators(root, schedules, facilities)
    rotations = build_rotations(root, coordinators)
    routing = root.table("routing") or Section({}, "routing", root.problems)
    default_task = build_task(routing.table("task"), TaskTemplate()) or TaskTemplate()
    rules = build_rules(root, fields, coordinators, rotations, facilities, default_task)
    fallback = routing.opt_text("fallback_owner")
    if fallback and fallback not in coordinators:
        routing.error("fallback_owner", f'no coordinator has id "{fallback}"')
    sla = routing.span("default_sla", "5m", minimum=MIN_SLA, maximum=MAX_SLA)
    clock = SlaClock(routing.text("sla_clock", "wall", choices=tuple(c.value for c in SlaClock)))
    level_attr = routing.text("level_of_care_attribute", "level_of_care")
    routing.text("zip_attribute", "zip")
    routing.finish()
    if not coordinators:
        root.error("coordinators", "at least one [[coordinators]] table is required")
    return Rulebook(
        coordinators=MappingProxyType(coordinators),
        rules=rules,
        facilities=MappingProxyType(facilities),
        rotations=MappingProxyType(rotations),
        fallback_owner=fallback,
        default_sla=sla,
        sla_clock=clock,
        task=default_task,
        level_of_care_attribute=level_attr,
    )


__all__ = ["build_rulebook", "format_duration", "parse_clock", "parse_days"]
