"""Keeps the `assignment` read model from lead events, in the transaction of each change.

One row per assignment (routed, reassigned, handed to the final owner); the owner write, the
contact attempt and how the assignment ended (breached, overridden) are filled in as their
events happen. The report reads it instead of replaying events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from state import LeadEventRecord, UnitOfWork
from state.repos.assignments import NewAssignment
from sync.lifecycle import LeadEvent
from sync.subscribers import EventBus

_ASSIGNING = (LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.ESCALATED_FINAL,
              LeadEvent.PASSED_ON, LeadEvent.PAGE_ESCALATED)
_DECIDING = (*_ASSIGNING, LeadEvent.HELD, LeadEvent.UNROUTABLE)
EVENTS = (*_DECIDING, LeadEvent.OWNER_WRITTEN, LeadEvent.CONTACTED, LeadEvent.BREACHED,
          LeadEvent.OVERRIDDEN)


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def project_many(uow: UnitOfWork, events: Sequence[LeadEventRecord]) -> None:
    """The assignments the decisions among `events` made, then what the others settle (an
    assignment is always made before anything settles it), a statement per kind."""
    decided = [e for e in events if LeadEvent(e.event) in _DECIDING]
    if decided:
        _decided(uow, decided)
    settles: dict[tuple[str, str], list[tuple[str, int, object]]] = {}
    for event in events:
        kind, detail = LeadEvent(event.event), event.detail
        if kind is LeadEvent.OWNER_WRITTEN:
            number = detail.get("for_assignment")
            settles.setdefault((event.crm, "owner_written_at"), []).append(
                (event.crm_id, number if isinstance(number, int) else event.assignment,
                 event.at))
        elif kind is LeadEvent.CONTACTED:
            settles.setdefault((event.crm, "attempt_at"), []).append(
                (event.crm_id, event.assignment, _time(detail.get("at")) or event.at))
        elif kind in (LeadEvent.BREACHED, LeadEvent.OVERRIDDEN):
            settles.setdefault((event.crm, "outcome"), []).append(
                (event.crm_id, event.assignment,
                 "breached" if kind is LeadEvent.BREACHED else "overridden"))
    for (crm, field), values in settles.items():
        uow.assignments.settle_many(crm, field, values)


def _decided(uow: UnitOfWork, events: Sequence[LeadEventRecord]) -> None:
    """Routing decisions: whom each passed over, and the assignment it made (if any). Both
    carry the lead's creation time: the report selects by it without a join."""
    for crm in sorted({e.crm for e in events}):
        mine = [e for e in events if e.crm == crm]
        new: list[NewAssignment] = []
        passed: list[tuple[str, datetime, datetime, dict[str, str]]] = []
        leads = uow.leads.get_many(crm, [e.crm_id for e in mine])
        for event in mine:
            lead = leads.get(event.crm_id)
            if lead is None:
                continue
            detail, kind = event.detail, LeadEvent(event.event)
            skipped = detail.get("passed_over")
            if isinstance(skipped, dict) and skipped:
                passed.append((event.crm_id, event.at, lead.created_at,
                               {str(k): str(v) for k, v in skipped.items()}))
            if kind in _ASSIGNING and event.coordinator:
                new.append(NewAssignment(event.crm_id, event.assignment, lead.created_at,
                                         kind.value, event.coordinator, event.rule,
                                         str(detail.get("reason") or "") or None, event.at,
                                         _time(detail.get("sla_due"))))
        uow.assignments.passed_over_many(crm, passed)
        uow.assignments.add_many(crm, new)


class _Projection:
    """The subscriber: one event (`__call__`) or a batch of them (`many`)."""

    def __call__(self, uow: UnitOfWork, event: LeadEventRecord) -> None:
        project_many(uow, [event])

    def many(self, uow: UnitOfWork, events: Sequence[LeadEventRecord]) -> None:
        project_many(uow, events)


def subscribe(bus: EventBus) -> None:
    bus.subscribe(_Projection(), events=[e.value for e in EVENTS])
