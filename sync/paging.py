"""The on-call ladder: a page not acknowledged within `ack_within` goes to the next person.

A lead assigned through an `[[on_call]]` rotation whose table sets `ack_within` gets, in the
transaction of that assignment, a `page_check` outbox row due when the time is up (the
outbox's claims make it run once, on one worker, after a crash too). The page is
acknowledged by its signed link (`acknowledge`, from `GET /ack/{token}`) or by a contact
attempt in the CRM; either settles the row. When the row comes due unsettled, the lead is
re-routed excluding everyone who let it pass -- the rotation's next person, paged in turn --
and once the whole rotation has passed, it goes to `[escalation] final_owner`, paged too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from routing import escalate
from routing.models import RosterState
from state import LeadEventRecord, LeadRecord, OutboxItem, UnitOfWork
from state.outbox_payloads import outbox_key
from state.tables import OutboxKind, OutboxStatus
from sync.ack_links import AckClaim
from sync.config.notifications import NotificationsConfig
from sync.context import Context
from sync.lifecycle import SLA_RUNNING, IllegalTransition, LeadEvent, transition
from sync.logs import get_logger
from sync.notify.subscriber import rotation_of
from sync.route import assign_decided, in_batches, lead_for
from sync.subscribers import EventBus

log = get_logger("leadrouter.paging")
BATCH = 100
_PAGED = (LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.PASSED_ON)


@dataclass
class PagingResult:
    passed_on: int = 0  # unacknowledged pages handed to the rotation's next person
    escalated: int = 0  # ... or, after the whole rotation, to the final owner
    settled: int = 0  # checks that found the page acknowledged, contacted or moved on


@dataclass(frozen=True, slots=True)
class _Changer:
    """What `transition` needs of a context, for a change made from a subscriber."""

    crm: str
    events: EventBus


class PageWatch:
    """Queues the check of each on-call page; a contact attempt acknowledges the page."""

    def __init__(self, config: NotificationsConfig, bus: EventBus) -> None:
        self.config = config
        self.bus = bus

    def __call__(self, uow: UnitOfWork, event: LeadEventRecord) -> None:
        if event.event == LeadEvent.CONTACTED.value:
            self._contacted(uow, event)
            return
        rotation = rotation_of(event)
        paging = self.config.paging.get(rotation) if rotation else None
        if paging is None or paging.ack_within is None or not event.coordinator:
            return
        if not str(event.detail.get("reason") or "").startswith("on_call:"):
            return  # the final owner (or a pool member on shift) ends the ladder
        uow.outbox.enqueue(outbox_key(event.crm_id, event.assignment, OutboxKind.PAGE_CHECK),
                           event.crm, event.crm_id, OutboxKind.PAGE_CHECK,
                           {"rotation": rotation, "coordinator": event.coordinator},
                           now=event.at, not_before=event.at + paging.ack_within)

    def _contacted(self, uow: UnitOfWork, event: LeadEventRecord) -> None:
        check = uow.outbox.get(outbox_key(event.crm_id, event.assignment,
                                          OutboxKind.PAGE_CHECK))
        if check is None or check.status != OutboxStatus.PENDING.value:
            return
        uow.outbox.mark_done(check.id, Ack.ACKNOWLEDGED.value, now=event.at)
        transition(uow, _Changer(event.crm, self.bus), event.crm_id, LeadEvent.ACKNOWLEDGED,
                   event.at, coordinator=event.coordinator, facts={"by": "contact_attempt"})


def subscribe(bus: EventBus, config: NotificationsConfig) -> None:
    if not any(p.ack_within for p in config.paging.values()):
        return
    bus.subscribe(PageWatch(config, bus),
                  events=[e.value for e in (*_PAGED, LeadEvent.CONTACTED)])


def pass_on_unanswered(ctx: Context) -> PagingResult:
    """Pages whose `ack_within` ended: settle the answered ones, pass the others on."""
    result = PagingResult()

    def failed(uow: UnitOfWork, check: OutboxItem, exc: Exception, now: datetime) -> None:
        # given up, not retried: the lead keeps its owner and SLA clock, and the breach
        # path still escalates it if nobody calls
        uow.outbox.mark_failed(check.id, f"page check failed: {type(exc).__name__}", None)
        log.error("page.check_failed", crm=ctx.crm, lead=check.crm_id,
                  error_type=type(exc).__name__)

    in_batches(ctx, lambda uow, now: uow.outbox.pending(BATCH, now, kind=OutboxKind.PAGE_CHECK,
                                                        lock=True),
               lambda uow, check, roster, now: _check(uow, ctx, check, roster, now, result),
               failed)
    return result


def _check(uow: UnitOfWork, ctx: Context, check: OutboxItem, roster: RosterState,
           now: datetime, result: PagingResult) -> RosterState:
    lead = uow.leads.get(ctx.crm, check.crm_id, lock=True)
    open_page = (lead is not None and lead.assignment == check.assignment
                 and lead.status in {s.value for s in SLA_RUNNING})
    if lead is None or not open_page:
        uow.outbox.mark_done(check.id, "settled", now=now)
        result.settled += 1
        return roster
    return _pass_on(uow, ctx, check, lead, roster, now, result)


def _pass_on(uow: UnitOfWork, ctx: Context, check: OutboxItem, lead: LeadRecord,
             roster: RosterState, now: datetime, result: PagingResult) -> RosterState:
    rotation_name = str(check.payload.get("rotation") or "")
    members = ctx.config.rulebook.rotations[rotation_name].coordinators
    excluded = sorted({*lead.excluded, *([lead.owner] if lead.owner else [])})
    usable = frozenset(ctx.directory.owner_of)
    outcome = escalate(lead_for(ctx, replace(lead, excluded=excluded)), ctx.config.rulebook,
                       roster, now, reassignments=len(set(members) & set(excluded)),
                       max_reassignments=len(members),
                       final_owner=ctx.config.escalation.final_owner, usable=usable)
    decision, final = outcome.decision, outcome.final
    uow.outbox.mark_done(check.id, Ack.PASSED_ON.value, now=now)
    if decision.owner not in usable:
        transition(uow, ctx, lead.crm_id, LeadEvent.ESCALATION_FAILED, now,
                   facts={"reason": "no usable final owner"})
        return roster
    result.escalated += int(final)
    result.passed_on += int(not final)
    return assign_decided(uow, ctx, lead, decision, roster, now,
                          event=LeadEvent.PAGE_ESCALATED if final else LeadEvent.PASSED_ON,
                          facts={"rotation": rotation_name, "why": "unacknowledged"},
                          excluded=excluded)


class Ack(StrEnum):
    """What opening an acknowledgement link did."""

    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already"  # acknowledged before: nothing changes
    PASSED_ON = "passed_on"  # the lead went to someone else (the page timed out, or a
    # person changed the owner): the link no longer acknowledges anything
    UNKNOWN = "unknown"  # no such lead in this store


def acknowledge(ctx: Context, claim: AckClaim, now: datetime) -> Ack:
    """Mark the page of a verified link acknowledged, in one transaction."""
    with ctx.store.unit_of_work() as uow:
        lead = uow.leads.get(claim.crm, claim.crm_id, lock=True)
        if lead is None:
            return Ack.UNKNOWN
        if lead.assignment != claim.assignment or lead.owner != claim.coordinator:
            return Ack.PASSED_ON
        if any(e.event == LeadEvent.ACKNOWLEDGED.value and e.assignment == claim.assignment
               for e in uow.events.for_lead(claim.crm, claim.crm_id)):
            return Ack.ALREADY
        try:
            transition(uow, ctx, claim.crm_id, LeadEvent.ACKNOWLEDGED, now,
                       coordinator=claim.coordinator, facts={"by": "link"})
        except IllegalTransition:
            return Ack.PASSED_ON  # overridden, or no longer assigned
        check = uow.outbox.get(outbox_key(claim.crm_id, claim.assignment,
                                          OutboxKind.PAGE_CHECK))
        if check is not None and check.status == OutboxStatus.PENDING.value:
            uow.outbox.mark_done(check.id, Ack.ACKNOWLEDGED.value, now=now)
        uow.commit()
    return Ack.ACKNOWLEDGED
