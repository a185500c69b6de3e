"""Keeps the `assignment` read model from lead events, in the transaction of each change.

One row per assignment (routed, reassigned, handed to the final owner); the owner write, the
contact attempt and how the assignment ended (breached, overridden) are filled in as their
events happen. The report reads it instead of replaying events.
"""

from __future__ import annotations

from datetime import datetime

from state import LeadEventRecord, UnitOfWork
from sync.lifecycle import LeadEvent
from sync.subscribers import EventBus

_ASSIGNING = (LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.ESCALATED_FINAL,
              LeadEvent.PASSED_ON, LeadEvent.PAGE_ESCALATED)
_DECIDING = (*_ASSIGNING, LeadEvent.HELD, LeadEvent.UNROUTABLE)
EVENTS = (*_DECIDING, LeadEvent.OWNER_WRITTEN, LeadEvent.CONTACTED, LeadEvent.BREACHED,
          LeadEvent.OVERRIDDEN)


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def project(uow: UnitOfWork, event: LeadEventRecord) -> None:
    kind, detail, repo = LeadEvent(event.event), event.detail, uow.assignments
    if kind in _DECIDING:
        _decided(uow, event, kind)
    elif kind is LeadEvent.OWNER_WRITTEN:
        number = detail.get("for_assignment")
        repo.settle(event.crm, event.crm_id,
                    number if isinstance(number, int) else event.assignment,
                    owner_written_at=event.at)
    elif kind is LeadEvent.CONTACTED:
        repo.settle(event.crm, event.crm_id, event.assignment,
                    attempt_at=_time(detail.get("at")) or event.at)
    elif kind is LeadEvent.BREACHED:
        repo.settle(event.crm, event.crm_id, event.assignment, outcome="breached")
    elif kind is LeadEvent.OVERRIDDEN:
        repo.settle(event.crm, event.crm_id, event.assignment, outcome="overridden")


def _decided(uow: UnitOfWork, event: LeadEventRecord, kind: LeadEvent) -> None:
    """A routing decision: whom it passed over, and the assignment it made (if any). Both
    carry the lead's creation time: the report selects by it without a join."""
    lead = uow.leads.get(event.crm, event.crm_id)
    if lead is None:
        return
    detail = event.detail
    skipped = detail.get("passed_over")
    if isinstance(skipped, dict) and skipped:
        uow.assignments.passed_over(event.crm, event.crm_id, event.at, lead.created_at,
                                    {str(k): str(v) for k, v in skipped.items()})
    if kind in _ASSIGNING and event.coordinator:
        uow.assignments.add(event.crm, event.crm_id, event.assignment,
                            lead_created_at=lead.created_at, kind=kind.value,
                            coordinator=event.coordinator, rule=event.rule,
                            reason=str(detail.get("reason") or "") or None,
                            assigned_at=event.at, sla_due=_time(detail.get("sla_due")))


def subscribe(bus: EventBus) -> None:
    bus.subscribe(project, events=[e.value for e in EVENTS])
