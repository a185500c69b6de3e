"""The SLA clock of an email-delivered lead starts when its message arrived in the mailbox.

Routing computes a deadline from the moment it decides; for a lead that came by email, its
first decision's deadline (and its task's due time) move back by the time between the
message's arrival (IMAP INTERNALDATE, the lead's `created_at`) and that decision. Later
decisions (after a hold, a breach) keep routing's own clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from routing.models import Decision, Step
from state import LeadRecord

ARRIVED_BY = "arrived_by"  # a lead attribute (a category, no PHI) set by email intake
EMAIL = "email"


def from_arrival(decision: Decision, row: LeadRecord, now: datetime) -> Decision:
    if decision.sla_due is None or row.attributes.get(ARRIVED_BY) != EMAIL:
        return decision
    if row.first_reason is not None:  # not its first decision
        return decision
    waited = now - row.created_at
    if waited <= timedelta(0):
        return decision
    due = decision.sla_due - waited
    task = replace(decision.task, due=due) if decision.task is not None else None
    step = Step("sla", f"clock from the email's arrival {row.created_at.isoformat()}: "
                       f"due {due.isoformat()}")
    return replace(decision, sla_due=due, task=task,
                   explanation=(*decision.explanation, step))
