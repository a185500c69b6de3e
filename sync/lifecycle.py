"""The lead lifecycle: every state, every event, and the one place a lead changes state.

A change is `(state, event) -> state`, looked up in `TRANSITIONS` below. `transition()` (and
`arrive()` for a record seen the first time) is the only code that writes a lead's status:
in the caller's transaction it updates the lead, writes its audit row (the routing
explanation, for `explain`), appends one `lead_events` row (ids and categories only), hands
that event to the subscribers (`sync/subscribers.py`) and logs one canonical line. A pair missing
from the table raises `IllegalTransition`: the lead is left as it was and the caller's
savepoint sets it aside rather than writing a status nobody designed.

    seen -> routed -> owner_written -> task_created -> contacted            (SLA met)
                                        task_created -> breached -> reassigned -> ...
                                                        breached -> escalated_final
    routed (on call) -> reassigned (passed on, unacknowledged) -> ... -> escalated_final
    seen -> held -> seen (released)        seen -> unroutable -> seen (retried)
    seen -> skipped -> seen (re-evaluated)  any open -> overridden (a person chose an owner)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from state import AuditKind, LeadEventRecord, LeadRecord, LeadStatus, UnitOfWork
from state.repos.audit import NewAudit
from state.types import as_utc
from sync.logs import get_logger
from sync.subscribers import EventBus

log = get_logger("leadrouter.lifecycle")
S = LeadStatus


class LeadEvent(StrEnum):
    ARRIVED = "arrived"  # first seen in the CRM, to be routed
    SKIPPED = "skipped"  # not eligible: a person owns it, or outside the configured filters
    SET_ASIDE = "set_aside"  # could not be recorded or routed; kept by id with the reason
    UNREADABLE = "unreadable"  # a known lead's new version could not be read; nothing changes
    REEVALUATED = "reevaluated"  # a skipped or set-aside lead changed and is eligible now
    ROUTED = "routed"  # an owner was chosen; owner write and task queued
    HELD = "held"  # nobody on shift: wait for the next shift
    RELEASED = "released"  # the shift started: route it now
    UNROUTABLE = "unroutable"  # nobody could be chosen
    RETRIED = "retried"  # an unroutable lead tried again (roster changed, or on schedule)
    OWNER_WRITTEN = "owner_written"  # the CRM accepted the owner
    TASK_CREATED = "task_created"  # the follow-up task exists in the CRM
    EARLIER_TASK_CREATED = "earlier_task_created"  # a replaced assignment's task (no move)
    CONTACTED = "contacted"  # the owner made a contact attempt
    OVERRIDDEN = "overridden"  # a person set another owner: respected, measured, left alone
    BREACHED = "breached"  # the response deadline passed with no attempt
    REASSIGNED = "reassigned"  # after a breach: routed to someone who has not failed it
    ESCALATED_FINAL = "escalated_final"  # after the last breach: handed to the final owner
    ESCALATION_FAILED = "escalation_failed"  # no usable final owner
    RECORD_MISSING = "record_missing"  # deleted or merged in the CRM
    WRITE_FAILED = "write_failed"  # a CRM write was given up; the state stays
    NOTIFIED = "notified"  # the owner was told (email, Slack, SMS); the state stays
    NOTIFY_FAILED = "notify_failed"  # a notification was given up; the state stays
    ACKNOWLEDGED = "acknowledged"  # the owner took the page: its link, or a contact attempt
    PASSED_ON = "passed_on"  # an on-call page unacknowledged in time: the rotation's next
    PAGE_ESCALATED = "page_escalated"  # ... and after the whole rotation: the final owner


SLA_RUNNING = (S.ROUTED, S.REASSIGNED, S.OWNER_WRITTEN, S.TASK_CREATED)
ASSIGNED = (*SLA_RUNNING, S.ESCALATED_FINAL)
ANY: tuple[LeadStatus, ...] = tuple(LeadStatus)
SAME = None  # as a target: the lead stays in the state it is in (the event is still recorded)

# (from states, event, to state). None as a from-state: the lead is not in the store yet.
_RULES: tuple[tuple[Iterable[LeadStatus | None], LeadEvent, LeadStatus | None], ...] = (
    ((None,), LeadEvent.ARRIVED, S.SEEN),
    ((None, S.SEEN, *SLA_RUNNING, S.SKIPPED), LeadEvent.SET_ASIDE, S.SET_ASIDE),
    (ANY, LeadEvent.UNREADABLE, SAME),
    ((S.SEEN,), LeadEvent.SKIPPED, S.SKIPPED),
    ((S.SKIPPED, S.SET_ASIDE), LeadEvent.REEVALUATED, S.SEEN),
    ((S.SEEN,), LeadEvent.ROUTED, S.ROUTED),
    ((S.SEEN,), LeadEvent.HELD, S.HELD),
    ((S.HELD,), LeadEvent.RELEASED, S.SEEN),
    ((S.SEEN,), LeadEvent.UNROUTABLE, S.UNROUTABLE),
    ((S.UNROUTABLE,), LeadEvent.RETRIED, S.SEEN),
    ((S.ROUTED, S.REASSIGNED), LeadEvent.OWNER_WRITTEN, S.OWNER_WRITTEN),
    # written again (a retry the CRM already had), or for an assignment since replaced
    (tuple(s for s in ANY if s not in (S.ROUTED, S.REASSIGNED)), LeadEvent.OWNER_WRITTEN,
     SAME),
    ((S.OWNER_WRITTEN,), LeadEvent.TASK_CREATED, S.TASK_CREATED),
    # a task found or made after the lead moved on (contacted, breached...) is still recorded
    (tuple(s for s in ANY if s is not S.OWNER_WRITTEN), LeadEvent.TASK_CREATED, SAME),
    (ANY, LeadEvent.EARLIER_TASK_CREATED, SAME),
    ((S.OWNER_WRITTEN, S.TASK_CREATED), LeadEvent.CONTACTED, S.CONTACTED),
    ((S.OVERRIDDEN, S.ESCALATED_FINAL), LeadEvent.CONTACTED, SAME),
    ((*ASSIGNED, S.BREACHED), LeadEvent.OVERRIDDEN, S.OVERRIDDEN),
    (SLA_RUNNING, LeadEvent.BREACHED, S.BREACHED),
    ((S.BREACHED,), LeadEvent.REASSIGNED, S.REASSIGNED),
    ((S.BREACHED,), LeadEvent.ESCALATED_FINAL, S.ESCALATED_FINAL),
    ((S.BREACHED,), LeadEvent.ESCALATION_FAILED, S.ESCALATED_FINAL),
    (ANY, LeadEvent.RECORD_MISSING, S.SKIPPED),
    (ANY, LeadEvent.WRITE_FAILED, SAME),
    (ANY, LeadEvent.NOTIFIED, SAME),
    (ANY, LeadEvent.NOTIFY_FAILED, SAME),
    ((*ASSIGNED, S.CONTACTED), LeadEvent.ACKNOWLEDGED, SAME),
    (SLA_RUNNING, LeadEvent.PASSED_ON, S.REASSIGNED),
    (SLA_RUNNING, LeadEvent.PAGE_ESCALATED, S.ESCALATED_FINAL),
)


def _table() -> dict[tuple[LeadStatus | None, LeadEvent], LeadStatus]:
    table: dict[tuple[LeadStatus | None, LeadEvent], LeadStatus] = {}
    for sources, event, target in _RULES:
        for source in sources:
            if (source, event) in table:
                raise AssertionError(f"transition ({source}, {event}) is listed twice")
            resolved = target if target is not SAME else source
            assert resolved is not None, f"{event} from nothing needs a target"
            table[(source, event)] = resolved
    return table


TRANSITIONS: Mapping[tuple[LeadStatus | None, LeadEvent], LeadStatus] = _table()


class IllegalTransition(Exception):
    """A lead was asked to change in a way the lifecycle does not allow."""

    phi_safe = True  # names a CRM id, a state and an event, nothing the lead carried


def next_status(current: LeadStatus | str | None, event: LeadEvent) -> LeadStatus:
    state = None if current is None else LeadStatus(current)
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(
            f"{event.value} is not allowed for a lead in state {state or 'none'}") from None


_AUDIT_KIND = {
    LeadEvent.ARRIVED: AuditKind.ARRIVED, LeadEvent.SKIPPED: AuditKind.SKIPPED,
    LeadEvent.SET_ASIDE: AuditKind.SET_ASIDE, LeadEvent.UNREADABLE: AuditKind.SET_ASIDE,
    LeadEvent.REEVALUATED: AuditKind.REEVALUATED, LeadEvent.ROUTED: AuditKind.DECISION,
    LeadEvent.HELD: AuditKind.HELD, LeadEvent.RELEASED: AuditKind.RELEASED,
    LeadEvent.UNROUTABLE: AuditKind.UNROUTABLE, LeadEvent.RETRIED: AuditKind.RETRY,
    LeadEvent.OWNER_WRITTEN: AuditKind.OWNER_WRITTEN,
    LeadEvent.TASK_CREATED: AuditKind.TASK_CREATED,
    LeadEvent.EARLIER_TASK_CREATED: AuditKind.TASK_CREATED,
    LeadEvent.CONTACTED: AuditKind.CONTACT_ATTEMPT, LeadEvent.OVERRIDDEN: AuditKind.OVERRIDDEN,
    LeadEvent.BREACHED: AuditKind.BREACH, LeadEvent.REASSIGNED: AuditKind.ESCALATION,
    LeadEvent.ESCALATED_FINAL: AuditKind.ESCALATION,
    LeadEvent.ESCALATION_FAILED: AuditKind.ERROR, LeadEvent.RECORD_MISSING: AuditKind.SKIPPED,
    LeadEvent.WRITE_FAILED: AuditKind.ERROR, LeadEvent.NOTIFIED: AuditKind.NOTIFIED,
    LeadEvent.NOTIFY_FAILED: AuditKind.NOTIFY_FAILED,
    LeadEvent.ACKNOWLEDGED: AuditKind.ACKNOWLEDGED, LeadEvent.PASSED_ON: AuditKind.ESCALATION,
    LeadEvent.PAGE_ESCALATED: AuditKind.ESCALATION,
}
# the canonical log line of each event: (name, level); events not listed log at debug
_LOG_LINE = {
    LeadEvent.ROUTED: ("lead.routed", "info"), LeadEvent.REASSIGNED: ("lead.escalated", "info"),
    LeadEvent.ESCALATED_FINAL: ("lead.escalated", "info"),
    LeadEvent.HELD: ("lead.held", "info"), LeadEvent.UNROUTABLE: ("lead.unroutable", "warning"),
    LeadEvent.CONTACTED: ("lead.contacted", "info"),
    LeadEvent.OVERRIDDEN: ("lead.overridden", "info"),
    LeadEvent.SET_ASIDE: ("lead.set_aside", "warning"),
    LeadEvent.UNREADABLE: ("lead.set_aside", "warning"),
    LeadEvent.REEVALUATED: ("lead.reevaluated", "info"),
    LeadEvent.ESCALATION_FAILED: ("lead.escalation_failed", "error"),
    LeadEvent.NOTIFY_FAILED: ("lead.notify_failed", "warning"),
    LeadEvent.ACKNOWLEDGED: ("lead.acknowledged", "info"),
    LeadEvent.PASSED_ON: ("lead.page_unanswered", "info"),
    LeadEvent.PAGE_ESCALATED: ("lead.page_unanswered", "warning"),
}
# facts that may go to the log line as they are (ids, times, categories)
_LOGGED_FACTS = ("reason", "sla_due", "release_at", "owner_id", "status", "channel", "by")
# where a fact is named otherwise, the log line's key -> the facts that may stand for it
_LOG_ALIASES = {"reason": ("why", "signal"), "status": ("was",), "owner_id": ("crm_owner",)}


class Context(Protocol):
    """What a change needs of the running context: the CRM kind and the event subscribers."""

    @property
    def crm(self) -> str: ...

    @property
    def events(self) -> EventBus: ...


@dataclass(frozen=True, slots=True)
class Assignment:
    """The fields a routing decision sets (with events routed, reassigned, escalated_final)."""

    owner: str
    crm_owner_id: str | None
    rule: str | None
    sla_due: datetime | None


# a fact: an id, a time, a category or a count; or coordinator id -> category
Fact = str | int | float | bool | None | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Change:
    """One event for one stored lead (`transition_many`); the fields as `transition`'s."""

    crm_id: str
    event: LeadEvent
    coordinator: str | None = None
    rule: str | None = None
    facts: Mapping[str, Fact] | None = None
    explanation: Mapping[str, Any] | None = None
    assignment: Assignment | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One record the store may not have seen (`arrive_many`); the fields as `arrive`'s."""

    crm_id: str
    created_at: datetime
    attributes: Mapping[str, str]
    facts: Mapping[str, Fact] | None = None
    event: LeadEvent = LeadEvent.ARRIVED
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Changed:
    lead: LeadRecord
    event: LeadEvent
    was: str | None
    coordinator: str | None
    rule: str | None
    facts: Mapping[str, Fact] | None
    explanation: Mapping[str, Any] | None


def transition(uow: UnitOfWork, ctx: Context, crm_id: str, event: LeadEvent, now: datetime,
               *, coordinator: str | None = None, rule: str | None = None,
               facts: Mapping[str, Fact] | None = None,
               explanation: Mapping[str, Any] | None = None,
               assignment: Assignment | None = None, **fields: Any) -> LeadRecord:
    """Apply `event` to the stored lead, in `uow`'s transaction; the lead as it is now.

    `facts` (ids, times, categories) go to the event and the audit row; `explanation` (the
    routing steps) to the audit row only; `fields` are other lead fields the change sets.
    """
    return transition_many(uow, ctx, [Change(crm_id, event, coordinator, rule, facts,
                                             explanation, assignment, fields)], now)[0]


def transition_many(uow: UnitOfWork, ctx: Context, changes: Sequence[Change],
                    now: datetime) -> list[LeadRecord]:
    """`transition` for several changes, in order (a lead may appear more than once): the
    leads are read in one query and written in one flush, their audit rows and events in
    one statement each. Every change is checked against the table before any is made: an
    illegal one raises and changes nothing."""
    if not changes:
        return []
    status: dict[str, LeadStatus | str] = dict(
        uow.leads.status_of(ctx.crm, [c.crm_id for c in changes]))
    targets: list[LeadStatus] = []
    for change in changes:
        if change.crm_id not in status:
            raise LookupError(f"no lead {ctx.crm}/{change.crm_id} in the store")
        status[change.crm_id] = next_status(status[change.crm_id], change.event)
        targets.append(LeadStatus(status[change.crm_id]))
    changed = [_change(uow, ctx, change, target, now)
               for change, target in zip(changes, targets, strict=True)]
    uow.flush()
    _record(uow, ctx, changed, now)
    return [c.lead for c in changed]


def _change(uow: UnitOfWork, ctx: Context, change: Change, target: LeadStatus,
            now: datetime) -> _Changed:
    lead = uow.leads.get(ctx.crm, change.crm_id)
    assert lead is not None  # checked by transition_many
    event, crm_id, assignment = change.event, change.crm_id, change.assignment
    coordinator, rule = change.coordinator, change.rule
    fields = {**change.fields, **_firsts(lead, event, change.facts or {}, now)}
    if assignment is not None:
        updated = uow.leads.assign(ctx.crm, crm_id, owner=assignment.owner,
                                   crm_owner_id=assignment.crm_owner_id, rule=assignment.rule,
                                   sla_due=assignment.sla_due, now=now, status=target,
                                   flush=False)
        coordinator, rule = assignment.owner, assignment.rule
        if fields:
            updated = uow.leads.update(ctx.crm, crm_id, now=now, flush=False, **fields)
    elif event is LeadEvent.BREACHED:
        updated = uow.leads.mark_breached(ctx.crm, crm_id, now=now, flush=False)
    else:
        if rule is not None:  # the rule that decided is the lead's rule (held, unroutable)
            fields["rule"] = rule
        updated = uow.leads.update(ctx.crm, crm_id, status=target, now=now, flush=False,
                                   **fields)
    return _Changed(updated, event, lead.status, coordinator, rule, change.facts,
                    change.explanation)


_DECISIONS = (LeadEvent.ROUTED, LeadEvent.HELD, LeadEvent.UNROUTABLE)


def _firsts(lead: LeadRecord, event: LeadEvent, facts: Mapping[str, Fact],
            now: datetime) -> dict[str, Any]:
    """Facts the report measures that only their first occurrence sets: the first owner the
    CRM accepted, the first decision's reason and how an after-hours arrival was handled."""
    out: dict[str, Any] = {}
    if event is LeadEvent.OWNER_WRITTEN and lead.first_owner_at is None:
        out["first_owner_at"] = now
    if event in _DECISIONS and lead.first_reason is None:
        out["first_reason"] = str(facts.get("reason") or event.value)[:64]
        if facts.get("after_hours"):
            out["after_hours"] = str(facts["after_hours"])
    return out


def arrive(uow: UnitOfWork, ctx: Context, crm_id: str, created_at: datetime,
           attributes: Mapping[str, str], now: datetime, *,
           event: LeadEvent = LeadEvent.ARRIVED, facts: Mapping[str, Fact] | None = None,
           **fields: Any) -> LeadRecord | None:
    """Record a lead the store has not seen (status from `(none, event)`); None if known."""
    return arrive_many(uow, ctx, [Arrival(crm_id, created_at, attributes, facts, event,
                                          fields)], now).get(crm_id)


def arrive_many(uow: UnitOfWork, ctx: Context, arrivals: Sequence[Arrival],
                now: datetime) -> dict[str, LeadRecord]:
    """`arrive` for several records (the first of a CRM id counts): the new leads by CRM id,
    inserted in one statement; their audit rows and events in one statement each."""
    first: dict[str, Arrival] = {}
    for arrival in arrivals:
        next_status(None, arrival.event)  # an event that cannot start a lead raises here
        first.setdefault(arrival.crm_id, arrival)
    new = uow.leads.add_seen_many(ctx.crm, [(a.crm_id, a.created_at, a.attributes)
                                            for a in first.values()], now=now)
    fresh = [a for a in first.values() if a.crm_id in new]
    # those arriving in another state or with more fields: their rows read in one query
    more = {a.crm_id for a in fresh
            if next_status(None, a.event) is not LeadStatus.SEEN or a.fields}
    uow.leads.get_many(ctx.crm, more)
    changed: list[_Changed] = []
    for a in fresh:
        lead = new[a.crm_id]
        if a.crm_id in more:
            lead = uow.leads.update(ctx.crm, a.crm_id, status=next_status(None, a.event),
                                    now=now, flush=False, **a.fields)
        changed.append(_Changed(lead, a.event, None, None, None, a.facts, None))
    uow.flush()
    _record(uow, ctx, changed, now)
    return {c.lead.crm_id: c.lead for c in changed}


def _record(uow: UnitOfWork, ctx: Context, changed: Sequence[_Changed], now: datetime) -> None:
    """The audit rows and events of `changed`, then their subscribers and log lines."""
    if not changed:
        return
    audit_ids = uow.audit.add_many([
        NewAudit(ctx.crm, c.lead.crm_id, _AUDIT_KIND[c.event], now, c.coordinator, c.rule,
                 {**(c.explanation or {}), **(c.facts or {})}) for c in changed])
    at = as_utc(now)
    smalls = [{k: v for k, v in (c.facts or {}).items() if v is not None} for c in changed]
    stored = uow.events.append_many([
        LeadEventRecord(None, uow.portal, ctx.crm, c.lead.crm_id, c.lead.assignment,
                        c.event.value, c.was, c.lead.status, c.coordinator, c.rule, at,
                        audit_id, small)
        for c, audit_id, small in zip(changed, audit_ids, smalls, strict=True)])
    ctx.events.publish_many(uow, stored)
    logger = log.bind()  # one logger for the batch (the module's proxy binds at every call)
    enabled = getattr(logger, "is_enabled_for", None)
    debug = enabled is None or enabled(logging.DEBUG)
    for event, small in zip(stored, smalls, strict=True):
        _log(logger, debug, ctx, event, small)


def _log(logger: Any, debug: bool, ctx: Context, event: LeadEventRecord,
         facts: Mapping[str, Fact]) -> None:
    name, level = _LOG_LINE.get(LeadEvent(event.event), (f"lead.{event.event}", "debug"))
    if level == "debug" and not debug:
        return  # filtered out anyway: the line is not built
    logged = {k: facts[k] for k in _LOGGED_FACTS if k in facts}
    for key, others in _LOG_ALIASES.items():
        for other in others:
            if key not in logged and other in facts:
                logged[key] = facts[other]
    getattr(logger, level)(name, crm=ctx.crm, lead=event.crm_id, owner=event.coordinator,
                           rule=event.rule, assignment=event.assignment or None, **logged)
