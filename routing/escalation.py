"""The escalation decision for a lead whose response deadline passed: pure, like `route`.

Re-route it excluding everyone who already failed it (the lead's `excluded`), up to
`max_reassignments`; after that, or when nobody usable is eligible, hand it to the final
owner (the supervisor) with a HIGH-priority task due a default SLA from now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from routing.engine import route
from routing.models import Decision, Lead, RosterState, Rulebook, Status, Step, TaskSpec


@dataclass(frozen=True, slots=True)
class Escalation:
    decision: Decision
    final: bool  # handed to the final owner (no pointer moves, no further reassignment)


def escalate(lead: Lead, rulebook: Rulebook, roster: RosterState, now: datetime, *,
             reassignments: int, max_reassignments: int, final_owner: str | None,
             usable: frozenset[str]) -> Escalation:
    """Decide where a breached lead goes now. `usable`: coordinators with a CRM owner."""
    decision = route(lead, rulebook, roster, now)
    final = (reassignments >= max_reassignments or decision.status is not Status.ASSIGNED
             or decision.owner not in usable)
    if final:
        decision = to_final_owner(decision, rulebook, final_owner, now)
    return Escalation(decision, final)


def to_final_owner(decision: Decision, rulebook: Rulebook, final_owner: str | None,
                   now: datetime) -> Decision:
    """Hand the lead to the final owner (the supervisor), with a task due now + SLA."""
    final = final_owner or rulebook.fallback_owner
    due = now + rulebook.default_sla
    task = TaskSpec(subject=f"Escalated lead {decision.lead_id}: no contact within SLA",
                    due=due, priority="HIGH", type=rulebook.task.type)
    step = Step("escalated", f"reassignment limit reached or nobody eligible: final owner "
                f"{final}", final)
    return replace(decision, status=Status.ASSIGNED, owner=final, sla_due=due, task=task,
                   reason=f"escalated_final:{final}", pointer=None,
                   explanation=(*decision.explanation, step))
