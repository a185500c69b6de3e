"""Domain types of the routing core: frozen, hashable, free of I/O.

The config loader (sync/config) builds a `Rulebook` from TOML; the pipeline and `simulate`
build `Lead`s and a `RosterState`, call `routing.route(...)`, and persist what the
returned `Decision` says (owner, pointer updates, explanation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType


def frozen_map(data: Mapping[str, object] | None = None) -> Mapping[str, object]:
    """A read-only view usable as a dataclass field default."""
    return MappingProxyType(dict(data or {}))


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
    LEAST_LOADED = "least_loaded"
    STICKY = "sticky"  # previous owner when eligible, else round robin


class AfterHours(StrEnum):
    ON_CALL = "on_call"  # the rule's on-call rotation takes it
    HOLD = "hold"  # assign at the next shift start of the pool
    ASSIGN_ANYWAY = "assign_anyway"  # ignore working hours (PTO, away and capacity still apply)


class Status(StrEnum):
    ASSIGNED = "assigned"
    HELD = "held"
    UNROUTABLE = "unroutable"


class SlaClock(StrEnum):
    WALL = "wall"
    BUSINESS = "business"  # only the owner's working time counts


class Op(StrEnum):
    IN = "in"  # attribute equals one of values (case-insensitive, trimmed)
    NOT_IN = "not_in"
    PREFIX = "prefix"  # attribute starts with one of values (ZIP prefixes)
    PRESENT = "present"  # attribute present and non-empty
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    op: Op
    values: tuple[str, ...] = ()  # normalised: stripped, lower-cased


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Facility:
    id: str
    location: GeoPoint
    levels_of_care: frozenset[str]  # normalised; empty = offers every level


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One weekly window in the schedule's own time zone; `end` may be 24:00 (time.max)."""

    weekdays: frozenset[int]  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    timezone: str  # IANA name, e.g. "America/Los_Angeles"
    hours: tuple[WorkingHours, ...]
    holidays: frozenset[date] = frozenset()  # already expanded (holidays package + extras)


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive calendar-date range, read in the coordinator's schedule time zone."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Coordinator:
    id: str
    crm_owner_id: str | None = None
    email: str | None = None
    teams: frozenset[str] = frozenset()
    capacity: int | None = None  # max open (uncontacted) leads; None = no cap
    weight: int = 1
    schedule: Schedule | None = None  # None = always on shift
    pto: tuple[DateRange, ...] = ()
    facility: str | None = None


@dataclass(frozen=True, slots=True)
class OnCallRotation:
    """Coordinators take turns, each for `period`, starting at `anchor`."""

    name: str
    coordinators: tuple[str, ...]
    anchor: datetime  # aware; the first coordinator's turn starts here
    period: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Pool:
    teams: frozenset[str] = frozenset()
    coordinators: tuple[str, ...] = ()
    nearest_facility: bool = False  # narrow to the nearest facility offering the level of care


@dataclass(frozen=True, slots=True)
class TaskTemplate:
    subject: str = "New lead {lead_id}: call within {sla}"  # fields: lead_id, rule, sla, owner
    priority: str = "HIGH"  # HIGH | MEDIUM | LOW
    type: str = "CALL"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    conditions: tuple[Condition, ...]
    pool: Pool
    strategy: Strategy = Strategy.ROUND_ROBIN
    sla: timedelta | None = None  # None = the rulebook default
    after_hours: AfterHours = AfterHours.HOLD
    on_call: str | None = None  # rotation name, required when after_hours is on_call
    fallback: str | None = None  # coordinator id
    task: TaskTemplate | None = None  # None = the rulebook default


@dataclass(frozen=True, slots=True)
class Rulebook:
    coordinators: Mapping[str, Coordinator]
    rules: tuple[Rule, ...]
    facilities: Mapping[str, Facility] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    rotations: Mapping[str, OnCallRotation] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    fallback_owner: str | None = None
    default_sla: timedelta = timedelta(minutes=5)
    sla_clock: SlaClock = SlaClock.WALL
    task: TaskTemplate = TaskTemplate()
    level_of_care_attribute: str = "level_of_care"


@dataclass(frozen=True, slots=True)
class Lead:
    """What routing may know of a lead: ids and routing attributes, never PHI."""

    id: str
    created_at: datetime  # aware
    attributes: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    location: GeoPoint | None = None  # resolved from the ZIP by the caller
    previous_owner: str | None = None  # coordinator id, for sticky routing
    excluded: frozenset[str] = frozenset()  # coordinators who already failed this lead
    # the SLA clock started here rather than at the decision (an email lead's arrival)
    clock_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class RosterState:
    """Mutable-in-spirit inputs kept by the store; `route` returns updates, never mutates."""

    open_counts: Mapping[str, int] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    # round robin: pointer key -> id of the coordinator who got the last lead
    last_assigned: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    # smooth weighted round robin: pointer key -> coordinator id -> current weight
    weights: Mapping[str, Mapping[str, int]] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    away: frozenset[str] = frozenset()


class SkipReason(StrEnum):
    OFF_SHIFT = "off_shift"
    HOLIDAY = "holiday"
    PTO = "pto"
    AWAY = "away"
    AT_CAPACITY = "at_capacity"
    PREVIOUSLY_FAILED = "previously_failed"
    UNKNOWN = "unknown_coordinator"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the explanation trail."""

    # rule_skipped | rule_matched | pool | skipped | eligible | picked | facility | fallback | ...
    kind: str
    detail: str
    coordinator: str | None = None


@dataclass(frozen=True, slots=True)
class TaskSpec:
    subject: str
    due: datetime
    priority: str
    type: str


@dataclass(frozen=True, slots=True)
class PointerUpdate:
    key: str
    last_assigned: str | None = None
    weights: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    lead_id: str
    status: Status
    owner: str | None  # coordinator id
    rule: str | None
    reason: str  # short machine-friendly summary, e.g. "round_robin", "on_call:nights"
    explanation: tuple[Step, ...]
    decided_at: datetime
    sla_due: datetime | None = None
    release_at: datetime | None = None  # for held leads: when to route again
    task: TaskSpec | None = None
    pointer: PointerUpdate | None = None
