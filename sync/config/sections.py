"""Pydantic models of the rulebook's TOML tables: types, bounds and unknown keys.

Each table is validated on its own (`schedules.day`, `coordinators[3]`), so one bad table
never hides the problems of the others; references between tables (a rule's pool naming a
team) are checked afterwards, in `sync/config/rulebook.py`.
"""

from __future__ import annotations

import contextlib
import re
import string
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.plugin import SettingsModel, shown, span, whole
from routing.models import AfterHours, DateRange, SlaClock, Strategy
from sync.config.notifications import e164
from sync.zip_lookup import locate_zip

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
TASK_FIELDS = {"lead_id", "rule", "sla", "owner"}
# Bounds (documented in config.example.toml). Dates and date-times routing compares or
# shifts must stay far from year 1 and 9999, where converting a time zone or adding a
# period overflows; SLAs past a month are not response deadlines.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
MIN_SLA, MAX_SLA = timedelta(seconds=1), timedelta(days=30)
MIN_PERIOD, MAX_PERIOD = timedelta(hours=1), timedelta(days=366)
MIN_ACK, MAX_ACK = timedelta(minutes=1), timedelta(hours=24)  # a link is valid 24 h
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
        span_ = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.update(span_)
    return frozenset(days)


def parse_clock(text: object) -> time:
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


def _pto(value: object) -> DateRange:
    if not isinstance(value, dict) or not set(value) <= {"from", "to"}:
        raise ValueError("must be { from = 2026-12-24, to = 2026-12-31 }")
    try:
        start, end = parse_date(value.get("from")), parse_date(value.get("to"))
    except ValueError as exc:
        raise ValueError(f"{exc}; write {{ from = 2026-12-24, to = ... }}") from None
    if end < start:
        raise ValueError("ends before it starts")
    return DateRange(start, end)


def _anchor(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("must be a date-time with offset, e.g. 2026-01-05T18:00:00-08:00")
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{shown(name)} is not an IANA time zone") from None
    return name


def _known_zip(zip_code: str) -> str:
    if locate_zip(zip_code) is None:
        raise ValueError(f"{shown(zip_code)} is not a known US ZIP code")
    return zip_code


def _ident(ident: str) -> str:
    if ident and not _ID.match(ident):
        raise ValueError(f'{shown(ident)} may use only letters, digits, "_", "-" and "."')
    return ident


def _subject(subject: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(subject) if name}
    except ValueError as exc:
        raise ValueError(f"is not a valid template: {exc}") from None
    if names - TASK_FIELDS:
        raise ValueError(f"may use only {{{'}, {'.join(sorted(TASK_FIELDS))}}}: lead details "
                         "are PHI and stay out of the CRM task subject")
    return subject


Names = tuple[str, ...]
OneOrMany = Annotated[Names, BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
Day = Annotated[date, PlainValidator(parse_date)]
Clock = Annotated[time, PlainValidator(parse_clock)]
Sla = Annotated[timedelta, span(MIN_SLA, MAX_SLA)]


class Window(SettingsModel):
    days: Annotated[frozenset[int], PlainValidator(lambda v: parse_days(str(v)))]
    start: Clock
    end: Clock

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: time, info: ValidationInfo) -> time:
        if "start" in info.data and end <= info.data["start"]:
            raise ValueError("must be after start (split a night shift into two windows)")
        return end


class ScheduleTable(SettingsModel):
    timezone: Annotated[str, AfterValidator(_timezone)]
    hours: tuple[Window, ...] = ()
    holidays: str = ""  # a country code of the `holidays` package
    holidays_subdivision: str = ""
    extra_holidays: tuple[Day, ...] = ()

    @field_validator("hours")
    @classmethod
    def _some_hours(cls, hours: tuple[Window, ...]) -> tuple[Window, ...]:
        if not hours:
            raise ValueError('needs at least one window, e.g. { days = "mon-fri", '
                             'start = "08:00", end = "18:00" }')
        return hours


class FacilityTable(SettingsModel):
    id: str
    zip: Annotated[str, AfterValidator(_known_zip)]
    name: str = ""
    levels_of_care: Names = ()


class CoordinatorTable(SettingsModel):
    id: Annotated[str, AfterValidator(_ident)]
    crm_owner_id: str = ""
    email: str = ""
    name: str = ""  # display name; never sent to logs alongside lead data
    teams: Names = ()
    capacity: Annotated[int, whole(0, MAX_CAPACITY)] | None = None
    weight: Annotated[int, whole(1, MAX_WEIGHT)] = 1
    schedule: str = ""
    facility: str = ""
    pto: tuple[Annotated[DateRange, PlainValidator(_pto)], ...] = ()
    # notifications (sync/config/notifications.py checks them against [notifications])
    phone: Annotated[str, AfterValidator(e164)] = ""  # E.164, for sms
    slack_user: str = ""  # a Slack member id, mentioned in Slack messages
    notify: tuple[Literal["email", "slack", "sms"], ...] = ()

    @model_validator(mode="after")
    def _findable(self) -> CoordinatorTable:
        if not self.crm_owner_id and not self.email:
            raise ValueError("needs crm_owner_id or email to find the CRM owner")
        return self


class OnCallTable(SettingsModel):
    name: str
    coordinators: Names
    starts: Annotated[datetime, PlainValidator(_anchor)]
    period: Annotated[timedelta, span(MIN_PERIOD, MAX_PERIOD)] = timedelta(days=7)
    # how its person is paged (on top of their own `notify`), and how long a page may go
    # unanswered before the next person of the rotation (then the final owner) gets the lead
    page: tuple[Literal["email", "slack", "sms"], ...] = ()
    ack_within: Annotated[timedelta, span(MIN_ACK, MAX_ACK)] | None = None

    @field_validator("coordinators")
    @classmethod
    def _someone(cls, members: Names) -> Names:
        if not members:
            raise ValueError("needs at least one coordinator")
        return members


class TaskTable(SettingsModel):
    """A task template; keys left out keep the default template's."""

    subject: Annotated[str, AfterValidator(_subject)] | None = None
    priority: Literal["HIGH", "MEDIUM", "LOW"] | None = None
    type: Literal["CALL", "EMAIL", "TODO"] | None = None


class PoolTable(SettingsModel):
    teams: OneOrMany = ()
    coordinators: Names = ()
    nearest_facility: StrictBool = False

    @model_validator(mode="after")
    def _someone(self) -> PoolTable:
        if not self.teams and not self.coordinators and not self.nearest_facility:
            raise ValueError("needs teams, coordinators or nearest_facility = true")
        return self


class RuleTable(SettingsModel):
    name: str
    when: dict[str, Any] = Field(default_factory=dict)  # conditions: sync/config/conditions.py
    pool: PoolTable
    strategy: Strategy = Strategy.ROUND_ROBIN
    sla: Sla | None = None  # None = the rulebook default
    after_hours: AfterHours = AfterHours.HOLD
    on_call: str = ""
    fallback: str = ""
    task: TaskTable | None = None

    @field_validator("on_call")
    @classmethod
    def _rotation_for_on_call(cls, on_call: str, info: ValidationInfo) -> str:
        if info.data.get("after_hours") is AfterHours.ON_CALL and not on_call:
            raise ValueError('is required when after_hours = "on_call"')
        return on_call


class RoutingTable(SettingsModel):
    fallback_owner: str = ""
    default_sla: Sla = timedelta(minutes=5)
    sla_clock: SlaClock = SlaClock.WALL
    level_of_care_attribute: str = "level_of_care"
    zip_attribute: str = "zip"
    task: TaskTable = Field(default_factory=TaskTable)


class Document(SettingsModel):
    """The top level: which tables exist (each is validated on its own)."""

    service: Any = None
    crm: Any
    fields: Any
    routing: Any = None
    escalation: Any = None
    schedules: Any = None
    facilities: Any = None
    coordinators: Any = None
    on_call: Any = None
    rules: Any = None
    notifications: Any = None
    intake: Any = None
