"""Per-rulebook precomputation, cached by identity (a Rulebook holds mappings, so it is not
hashable). The cache keeps a strong reference to each rulebook it compiled, so an id is never
reused while its entry lives. Treat a Rulebook as immutable once routed with it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from routing.calendar import CompiledSchedule, compile_schedule
from routing.geo import offers
from routing.matching import CompiledCondition, compile_condition
from routing.models import Coordinator, DateRange, Facility, Rule, Rulebook, Step

if TYPE_CHECKING:
    from routing.snapshot import Snapshot

_MAX_ENTRIES = 16


@dataclass(slots=True, eq=False)
class CRule:
    rule: Rule
    conditions: tuple[CompiledCondition, ...]
    base: tuple[str, ...]  # sorted ids from teams ∪ coordinators (everyone when neither given)
    base_given: bool
    base_set: frozenset[str]


@dataclass(slots=True, eq=False)
class CCoord:
    coordinator: Coordinator
    schedule: CompiledSchedule | None
    pto: tuple[DateRange, ...]
    capacity: int | None


@dataclass(slots=True, eq=False)
class CompiledRulebook:
    rulebook: Rulebook
    rules: tuple[CRule, ...]
    coords: dict[str, CCoord]
    facilities: tuple[Facility, ...]  # sorted by id
    facility_members: dict[str, tuple[str, ...]]
    _offering: dict[str | None, tuple[Facility, ...]] = field(default_factory=dict)
    _geo_pools: dict[tuple[int, tuple[str, ...]], tuple[str, ...]] = field(default_factory=dict)
    snapshots: dict[int, Snapshot] = field(default_factory=dict)  # id(pool) -> snapshot
    capacity_steps: dict[tuple[str, int], Step] = field(default_factory=dict)
    skip_steps: dict[tuple[int, CompiledCondition, str | None], Step] = field(default_factory=dict)

    def offering(self, level: str | None) -> tuple[Facility, ...]:
        hit = self._offering.get(level)
        if hit is None:
            hit = tuple(f for f in self.facilities if offers(f, level))
            self._offering[level] = hit
        return hit

    def geo_pool(self, index: int, facility_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Coordinators at any of the facilities, narrowed to the rule's teams/coordinators."""
        key = (index, facility_ids)
        hit = self._geo_pools.get(key)
        if hit is None:
            members: set[str] = set()
            for fid in facility_ids:
                members.update(self.facility_members.get(fid, ()))
            crule = self.rules[index]
            if crule.base_given:
                members &= crule.base_set
            hit = tuple(sorted(members))
            self._geo_pools[key] = hit
        return hit


def _base_pool(rule: Rule, coordinators: dict[str, Coordinator]) -> tuple[tuple[str, ...], bool]:
    pool = rule.pool
    if not pool.teams and not pool.coordinators:
        return tuple(sorted(coordinators)), False
    ids = set(pool.coordinators)  # unknown ids stay: they show up as skipped "unknown"
    if pool.teams:
        ids.update(cid for cid, c in coordinators.items() if c.teams & pool.teams)
    return tuple(sorted(ids)), True


def _compile(rulebook: Rulebook) -> CompiledRulebook:
    coordinators = dict(rulebook.coordinators)
    rules = []
    for rule in rulebook.rules:
        base, given = _base_pool(rule, coordinators)
        rules.append(
            CRule(
                rule=rule,
                conditions=tuple(compile_condition(c) for c in rule.conditions),
                base=base,
                base_given=given,
                base_set=frozenset(base),
            )
        )
    coords = {
        cid: CCoord(
            coordinator=c,
            schedule=compile_schedule(c.schedule) if c.schedule is not None else None,
            pto=c.pto,
            capacity=c.capacity,
        )
        for cid, c in coordinators.items()
    }
    members: dict[str, list[str]] = {}
    for cid, c in coordinators.items():
        if c.facility is not None:
            members.setdefault(c.facility, []).append(cid)
    return CompiledRulebook(
        rulebook=rulebook,
        rules=tuple(rules),
        coords=coords,
        facilities=tuple(sorted(rulebook.facilities.values(), key=lambda f: f.id)),
        facility_members={fid: tuple(sorted(ids)) for fid, ids in members.items()},
    )


_CACHE: OrderedDict[int, CompiledRulebook] = OrderedDict()


def compiled(rulebook: Rulebook) -> CompiledRulebook:
    key = id(rulebook)
    entry = _CACHE.get(key)
    if entry is not None and entry.rulebook is rulebook:
        return entry
    entry = _compile(rulebook)
    _CACHE[key] = entry
    while len(_CACHE) > _MAX_ENTRIES:
        _CACHE.popitem(last=False)
    return entry
