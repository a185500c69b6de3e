"""Builds the routing `Rulebook` from the validated tables, checking references between them
(a pool's team, a rule's rotation, a coordinator's schedule) and ids used twice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, TypeVar

import holidays as holidays_lib

from routing.models import (
    Coordinator,
    Facility,
    OnCallRotation,
    Pool,
    Rule,
    Rulebook,
    Schedule,
    TaskTemplate,
    WorkingHours,
)
from sync.config.conditions import build_conditions
from sync.config.reader import Problems
from sync.config.sections import (
    CoordinatorTable,
    FacilityTable,
    OnCallTable,
    RoutingTable,
    RuleTable,
    ScheduleTable,
    TaskTable,
    parse_clock,
    parse_days,
)
from sync.zip_lookup import locate_zip

T = TypeVar("T")
# holidays are expanded into plain dates once, for every year a lead could plausibly carry
HOLIDAY_YEARS = range(2015, 2041)


def _tables(problems: Problems, data: Mapping[str, Any], key: str, kind: type[T]
            ) -> list[tuple[str, T]]:
    """Each valid table of the array `key` (`[[rules]]`) with its path; problems recorded."""
    items = problems.validate(list[Any], data.get(key, []), key) or []
    tables = [(f"{key}[{i}]", problems.validate(kind, item, f"{key}[{i}]"))
              for i, item in enumerate(items)]
    return [(path, table) for path, table in tables if table is not None]


def declared(data: Mapping[str, Any], key: str, name: str) -> set[str]:
    """Names the file declares, valid tables or not: a reference to a table with a mistake
    of its own is not a second problem."""
    items = data.get(key)
    return {item[name] for item in items if isinstance(item, dict)
            and isinstance(item.get(name), str)} if isinstance(items, list) else set()


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _schedules(problems: Problems, data: Mapping[str, Any]) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = {}
    for name, raw in (problems.validate(dict[str, Any], data.get("schedules", {}),
                                        "schedules") or {}).items():
        path = f"schedules.{name}"
        table = problems.validate(ScheduleTable, raw, path)
        if table is not None:
            hours = tuple(WorkingHours(w.days, w.start, w.end) for w in table.hours)
            days_off = _holidays(problems, table, path)
            schedules[name] = Schedule(name, table.timezone, hours, frozenset(days_off))
    return schedules


def _holidays(problems: Problems, table: ScheduleTable, path: str) -> set[date]:
    days = set(table.extra_holidays)
    if table.holidays:
        try:
            days.update(holidays_lib.country_holidays(
                table.holidays, subdiv=table.holidays_subdivision or None, years=HOLIDAY_YEARS))
        except NotImplementedError as exc:
            problems.add(f"{path}.holidays", str(exc))
    elif table.holidays_subdivision:
        problems.add(f"{path}.holidays_subdivision", "needs `holidays` (a country code) too")
    return days


def _facilities(problems: Problems, data: Mapping[str, Any]) -> dict[str, Facility]:
    facilities: dict[str, Facility] = {}
    for path, table in _tables(problems, data, "facilities", FacilityTable):
        location = locate_zip(table.zip)
        if table.id in facilities:
            problems.add(f"{path}.id", f'"{table.id}" is used by another facility')
        elif table.id and location is not None:
            levels = frozenset(v.lower() for v in table.levels_of_care)
            facilities[table.id] = Facility(table.id, location, levels)
    return facilities


def _coordinators(problems: Problems, data: Mapping[str, Any],
                  schedules: Mapping[str, Schedule]) -> dict[str, Coordinator]:
    coordinators: dict[str, Coordinator] = {}
    schedule_names = set(data.get("schedules") or {})
    facility_ids = declared(data, "facilities", "id")
    for path, table in _tables(problems, data, "coordinators", CoordinatorTable):
        if table.schedule and table.schedule not in schedule_names:
            problems.add(f"{path}.schedule", f'no schedule is named "{table.schedule}"')
        if table.facility and table.facility not in facility_ids:
            problems.add(f"{path}.facility", f'no facility has id "{table.facility}"')
        if table.id in coordinators:
            problems.add(f"{path}.id", f'"{table.id}" is used by another coordinator')
        elif table.id:
            coordinators[table.id] = Coordinator(
                id=table.id, crm_owner_id=table.crm_owner_id or None,
                email=table.email or None, teams=frozenset(t.lower() for t in table.teams),
                capacity=table.capacity, weight=table.weight,
                schedule=schedules.get(table.schedule) if table.schedule else None,
                pto=table.pto, facility=table.facility or None)
    return coordinators


def _rotations(problems: Problems, data: Mapping[str, Any], coordinator_ids: set[str]
               ) -> dict[str, OnCallRotation]:
    rotations: dict[str, OnCallRotation] = {}
    for path, table in _tables(problems, data, "on_call", OnCallTable):
        for member in table.coordinators:
            if member not in coordinator_ids:
                problems.add(f"{path}.coordinators", f'no coordinator has id "{member}"')
        if table.name:
            rotations[table.name] = OnCallRotation(table.name, table.coordinators,
                                                   table.starts, table.period)
    return rotations


def _task(table: TaskTable | None, default: TaskTemplate) -> TaskTemplate | None:
    if table is None:
        return None
    return TaskTemplate(table.subject or default.subject, table.priority or default.priority,
                        table.type or default.type)


def _rules(problems: Problems, data: Mapping[str, Any], fields: Mapping[str, str],
           task: TaskTemplate) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    names: set[str] = set()
    coordinator_ids = declared(data, "coordinators", "id")
    rotation_names = declared(data, "on_call", "name")
    teams = {team.lower() for item in data.get("coordinators") or [] if isinstance(item, dict)
             for team in _strings(item.get("teams"))}
    has_facilities = bool(data.get("facilities"))
    for path, table in _tables(problems, data, "rules", RuleTable):
        if table.name in names:
            problems.add(f"{path}.name", f'"{table.name}" is used by another rule')
        names.add(table.name)
        pool = table.pool
        pool_teams = frozenset(t.lower() for t in pool.teams)
        for team in sorted(pool_teams - teams):
            problems.add(f"{path}.pool.teams", f'no coordinator is in team "{team}"')
        for member in pool.coordinators:
            if member not in coordinator_ids:
                problems.add(f"{path}.pool.coordinators", f'no coordinator has id "{member}"')
        if pool.nearest_facility and not has_facilities:
            problems.add(f"{path}.pool.nearest_facility",
                         "needs at least one [[facilities]] table")
        if table.on_call and table.on_call not in rotation_names:
            problems.add(f"{path}.on_call", f'no on_call rotation is named "{table.on_call}"')
        if table.fallback and table.fallback not in coordinator_ids:
            problems.add(f"{path}.fallback", f'no coordinator has id "{table.fallback}"')
        rules.append(Rule(
            name=table.name, conditions=build_conditions(problems, path, table.when, fields),
            pool=Pool(pool_teams, pool.coordinators, pool.nearest_facility),
            strategy=table.strategy, sla=table.sla, after_hours=table.after_hours,
            on_call=table.on_call or None, fallback=table.fallback or None,
            task=_task(table.task, task)))
    return tuple(rules)


def build_rulebook(problems: Problems, data: Mapping[str, Any], fields: Mapping[str, str],
                   routing: RoutingTable | None) -> Rulebook:
    """The rulebook; meaningful only when `problems` stays empty."""
    schedules = _schedules(problems, data)
    facilities = _facilities(problems, data)
    coordinators = _coordinators(problems, data, schedules)
    rotations = _rotations(problems, data, declared(data, "coordinators", "id"))
    routing = routing or RoutingTable()
    default_task = _task(routing.task, TaskTemplate()) or TaskTemplate()
    rules = _rules(problems, data, fields, default_task)
    fallback = routing.fallback_owner or None
    if fallback and fallback not in declared(data, "coordinators", "id"):
        problems.add("routing.fallback_owner", f'no coordinator has id "{fallback}"')
    if not data.get("coordinators"):
        problems.add("coordinators", "at least one [[coordinators]] table is required")
    if not data.get("rules"):
        problems.add("rules", "at least one [[rules]] table is required")
    return Rulebook(
        coordinators=MappingProxyType(coordinators), rules=rules,
        facilities=MappingProxyType(facilities), rotations=MappingProxyType(rotations),
        fallback_owner=fallback, default_sla=routing.default_sla,
        sla_clock=routing.sla_clock, task=default_task,
        level_of_care_attribute=routing.level_of_care_attribute)


__all__ = ["build_rulebook", "declared", "parse_clock", "parse_days"]
