"""When the pool has nobody: the on-call rotation, the next shift start, the fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.models import (
    Decision,
    Rule,
    SkipReason,
    Status,
    Step,
)
from routing.outcome import Ctx, assign
from routing.snapshot import Snapshot


def on_call(ctx: Ctx, rule: Rule) -> Decision | None:
    steps = ctx.steps
    rotation = ctx.cr.rulebook.rotations.get(rule.on_call) if rule.on_call else None
    if rotation is None or not rotation.coordinators or rotation.period <= timedelta(0):
        steps.append(Step("on_call", f"no usable on-call rotation {rule.on_call!r}"))
        return None
    n = len(rotation.coordinators)
    start = ((ctx.ev.now - rotation.anchor.astimezone(UTC)) // rotation.period) % n
    coords = ctx.cr.coords
    for k in range(n):
        cid = rotation.coordinators[(start + k) % n]
        cc = coords.get(cid)
        hard, _timing, at_cap = ctx.ev.assess(cid, cc)
        blocking = hard or (SkipReason.AT_CAPACITY if at_cap else None)
        if blocking is not None:
            steps.append(
                Step(
                    "on_call",
                    f"{rotation.name}: {cid} skipped: "
                    f"{ctx.ev.describe(cid, cc, blocking)}; trying next",
                    cid,
                )
            )
            continue
        turn = "on call" if k == 0 else f"next in rotation ({k} after the on-call person)"
        steps.append(Step("on_call", f"{rotation.name}: {cid} {turn}", cid))
        return assign(ctx, rule, cid, f"on_call:{rotation.name}", None, None, wall_clock=True)
    steps.append(Step("on_call", f"{rotation.name}: nobody in the rotation can take it"))
    return None


def release_time(ctx: Ctx, snap: Snapshot) -> tuple[datetime, str] | None:
    """Earliest next shift start among pool members that are known, not away and have not
    failed this lead; PTO days (and holidays) are skipped in the walk."""
    best: tuple[datetime, str] | None = None
    now = ctx.ev.now
    excluded = ctx.lead.excluded
    away = ctx.roster.away
    for cid, cc, _hard, _timing, _step in snap.entries:
        if cc is None or cid in excluded or cid in away:
            continue
        at = snap.next_start(cid, cc, now)
        if at is not None and (best is None or at < best[0]):
            best = (at, cid)
    return best


def fallback(ctx: Ctx, rule: Rule | None) -> Decision:
    steps = ctx.steps
    chain: list[tuple[str, str]] = []
    if rule is not None and rule.fallback:
        chain.append(("rule", rule.fallback))
    global_owner = ctx.cr.rulebook.fallback_owner
    if global_owner and (rule is None or global_owner != rule.fallback):
        chain.append(("global", global_owner))
    for kind, cid in chain:
        cc = ctx.cr.coords.get(cid)
        hard, timing, at_cap = ctx.ev.assess(cid, cc)
        if hard is not None:
            steps.append(
                Step(
                    "fallback",
                    f"{kind} fallback {cid} skipped: {ctx.ev.describe(cid, cc, hard)}",
                    cid,
                )
            )
            continue
        notes = [str(timing)] if timing is not None else []
        if at_cap:
            notes.append("at_capacity")
        extra = f" (safety net: assigned although {', '.join(notes)})" if notes else ""
        steps.append(Step("fallback", f"{kind} fallback {cid} assigned{extra}", cid))
        return assign(ctx, rule, cid, f"fallback:{kind}", None, None)
    reason = "no_eligible_coordinator" if rule is not None else "no_rule_matched"
    steps.append(Step("unroutable", "no fallback owner available"))
    return Decision(
        lead_id=ctx.lead.id,
        status=Status.UNROUTABLE,
        owner=None,
        rule=rule.name if rule is not None else None,
        reason=reason,
        explanation=tuple(steps),
        decided_at=ctx.ev.now,
    )
