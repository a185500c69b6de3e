"""Turning a pick into a `Decision`: SLA deadline, task, explanation (shared by all paths)."""

from __future__ import annotations

from dataclasses import dataclass

from routing.compiled import CompiledRulebook
from routing.eligibility import Evaluator
from routing.models import (
    Decision,
    Lead,
    PointerUpdate,
    RosterState,
    Rule,
    SlaClock,
    Status,
    Step,
)
from routing.sla import business_deadline, human_duration, task_spec
from routing.snapshot import PtoDays


@dataclass(slots=True)
class Ctx:
    lead: Lead
    cr: CompiledRulebook
    roster: RosterState
    ev: Evaluator
    steps: list[Step]


def assign(
    ctx: Ctx,
    rule: Rule | None,
    owner: str,
    reason: str,
    pointer: PointerUpdate | None,
    detail: str | None,
    wall_clock: bool = False,
) -> Decision:
    rulebook = ctx.cr.rulebook
    now = ctx.ev.now
    sla = (rule.sla if rule is not None and rule.sla else None) or rulebook.default_sla
    start = min(now, ctx.lead.clock_from) if ctx.lead.clock_from is not None else now
    due = start + sla
    clock_used = "wall clock"
    cc = ctx.cr.coords.get(owner)
    if rulebook.sla_clock is SlaClock.BUSINESS and not wall_clock:
        if cc is not None and cc.schedule is not None:
            blocked = PtoDays(cc.pto) if cc.pto else None
            business = business_deadline(cc.schedule, start, sla, blocked)
            if business is not None:
                due, clock_used = business, f"business hours of {owner}"
            else:
                clock_used = "wall clock (no working time found for the owner)"
        else:
            clock_used = "wall clock (owner has no schedule)"
    elif wall_clock and rulebook.sla_clock is SlaClock.BUSINESS:
        clock_used = "wall clock (on call)"
    if detail is not None:
        ctx.steps.append(Step("picked", detail, owner))
    since = f" from {start.isoformat()}" if start != now else ""
    ctx.steps.append(Step("sla", f"{human_duration(sla)} on {clock_used}{since}: "
                                 f"due {due.isoformat()}"))
    template = (rule.task if rule is not None and rule.task else None) or rulebook.task
    task = task_spec(template, ctx.lead.id, rule.name if rule else None, sla, owner, due)
    return Decision(
        lead_id=ctx.lead.id,
        status=Status.ASSIGNED,
        owner=owner,
        rule=rule.name if rule is not None else None,
        reason=reason,
        explanation=tuple(ctx.steps),
        decided_at=now,
        sla_due=due,
        task=task,
        pointer=pointer,
    )
