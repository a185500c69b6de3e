"""`route`: one lead + rulebook + roster state + now -> Decision. Pure; never mutates input.

Flow: first matching rule -> pool (teams/coordinators, optionally narrowed to the nearest
facility offering the level of care) -> eligibility per candidate -> strategy pick. When
nobody is eligible but someone would be in working time -> the rule's after-hours path
(on-call / hold / assign anyway). Otherwise, or when that path finds nobody -> fallbacks:
the rule's fallback coordinator, then the rulebook's fallback owner, then UNROUTABLE.
"""

from __future__ import annotations

from datetime import datetime

from routing.compiled import CompiledRulebook, CRule, compiled
from routing.eligibility import (
    UNKNOWN,
    Assessment,
    Evaluator,
    eligible_ignoring_time,
    now_utc,
    reason_of,
)
from routing.fallbacks import fallback, on_call, release_time
from routing.geo import nearest
from routing.matching import (
    CompiledCondition,
    describe_failure,
    first_failure,
    normalise_attributes,
)
from routing.models import (
    AfterHours,
    Decision,
    Lead,
    PointerUpdate,
    RosterState,
    Rule,
    Rulebook,
    SkipReason,
    Status,
    Step,
    Strategy,
)
from routing.outcome import Ctx, assign
from routing.snapshot import HOLD_HORIZON_DAYS, Snapshot, snapshot
from routing.strategies import Pick, least_loaded, round_robin, smooth_weighted


def route(lead: Lead, rulebook: Rulebook, roster: RosterState, now: datetime) -> Decision:
    """Decide who owns `lead` at `now` (aware). See the module docstring and README."""
    now = now_utc(now)
    ctx = Ctx(lead, compiled(rulebook), roster, Evaluator(now, lead, roster), [])
    steps = ctx.steps
    attrs = normalise_attributes(lead.attributes)
    for index, crule in enumerate(ctx.cr.rules):
        failed = first_failure(crule.conditions, attrs)
        if failed is not None:
            steps.append(_skip_step(ctx.cr, index, failed, attrs))
            continue
        rule = crule.rule
        how = f"strategy {rule.strategy}, after hours {rule.after_hours}"
        steps.append(Step("rule_matched", f"{rule.name} ({how})"))
        return _route_rule(ctx, index, crule, attrs)
    steps.append(Step("no_rule", "no rule matched"))
    return fallback(ctx, None)


def _skip_step(
    cr: CompiledRulebook, index: int, failed: CompiledCondition, attrs: dict[str, str]
) -> Step:
    """The "rule skipped" step, cached per (rule, condition, lead value)."""
    key = (index, failed, attrs.get(failed.attribute))
    step = cr.skip_steps.get(key)
    if step is None:
        step = Step(
            "rule_skipped", f"{cr.rules[index].rule.name}: {describe_failure(failed, attrs)}"
        )
        if len(cr.skip_steps) < 50_000:
            cr.skip_steps[key] = step
    return step


def _capacity_step(cr: CompiledRulebook, cid: str, capacity: int | None, count: int) -> Step:
    key = (cid, count)
    step = cr.capacity_steps.get(key)
    if step is None:
        step = Step("skipped", f"at_capacity ({count}/{capacity} open leads)", cid)
        if len(cr.capacity_steps) < 50_000:
            cr.capacity_steps[key] = step
    return step


def _assess_all(ctx: Ctx, snap: Snapshot) -> tuple[list[str], dict[str, Assessment]]:
    """Every candidate with every check; skip steps in pool order. Returns the eligible ids
    (sorted) and the assessments of the others."""
    steps = ctx.steps
    ev = ctx.ev
    excluded = ctx.lead.excluded
    away = ctx.roster.away
    open_get = ctx.roster.open_counts.get
    eligible: list[str] = []
    assessments: dict[str, Assessment] = {}
    for cid, cc, static_hard, timing, static_step in snap.entries:
        if cc is None:
            assessments[cid] = UNKNOWN
            steps.append(static_step)  # type: ignore[arg-type]
            continue
        if cid in excluded:
            hard: SkipReason | None = SkipReason.PREVIOUSLY_FAILED
        elif cid in away:
            hard = SkipReason.AWAY
        else:
            hard = static_hard
        cap = cc.capacity
        count = open_get(cid, 0)
        at_cap = cap is not None and count >= cap
        if hard is None and timing is None:
            if at_cap:
                assessments[cid] = (None, None, True)
                steps.append(_capacity_step(ctx.cr, cid, cap, count))
            else:
                eligible.append(cid)
            continue
        assessments[cid] = (hard, timing, at_cap)
        if hard is static_hard:
            steps.append(static_step)  # type: ignore[arg-type]
        else:
            steps.append(Step("skipped", ev.describe(cid, cc, hard), cid))  # type: ignore[arg-type]
    return eligible, assessments


def _route_rule(ctx: Ctx, index: int, crule: CRule, attrs: dict[str, str]) -> Decision:
    rule = crule.rule
    steps = ctx.steps
    pool, key = _pool(ctx, index, crule, attrs)
    if not pool:
        steps.append(Step("pool", "empty pool"))
        return fallback(ctx, rule)
    snap = snapshot(ctx.cr, pool, ctx.ev.now)
    steps.append(snap.pool_step)
    excluded = ctx.lead.excluded
    away = ctx.roster.away
    open_get = ctx.roster.open_counts.get
    members = snap.members
    if (not excluded or members.isdisjoint(excluded)) and (not away or members.isdisjoint(away)):
        # Fast path: nothing per-lead or per-roster besides capacity can change the snapshot.
        steps.extend(snap.static_steps)
        eligible: list[str] = []
        for cid, cap in snap.open_entries:
            count = open_get(cid, 0) if cap is not None else 0
            if cap is not None and count >= cap:
                steps.append(_capacity_step(ctx.cr, cid, cap, count))
            else:
                eligible.append(cid)
        if not eligible:  # after-hours candidates: off shift / holiday only, below capacity
            waiting = [
                cid for cid, cap in snap.timing_entries if cap is None or open_get(cid, 0) < cap
            ]
    else:
        eligible, assessments = _assess_all(ctx, snap)
        if not eligible:
            waiting = [
                cid
                for cid, a in assessments.items()
                if a[1] is not None and eligible_ignoring_time(a)
            ]
    if eligible:
        steps.append(Step("eligible", ", ".join(eligible)))
        pick, reason_str = _pick(ctx, rule, key, eligible, members)
        return assign(ctx, rule, pick.coordinator, reason_str, _pointer(key, pick), pick.detail)
    if not waiting:
        steps.append(
            Step("no_eligible", "nobody in the pool is eligible (not an after-hours case)")
        )
        return fallback(ctx, rule)
    steps.append(
        Step(
            "after_hours",
            f"nobody on shift; eligible in working time: {', '.join(waiting)}; "
            f"path {rule.after_hours}",
        )
    )
    if rule.after_hours is AfterHours.ASSIGN_ANYWAY:
        pick, reason_str = _pick(ctx, rule, key, waiting, members)
        return assign(
            ctx,
            rule,
            pick.coordinator,
            f"assign_anyway:{reason_str}",
            _pointer(key, pick),
            pick.detail,
        )
    if rule.after_hours is AfterHours.ON_CALL:
        decision = on_call(ctx, rule)
        if decision is not None:
            return decision
        return fallback(ctx, rule)
    release = release_time(ctx, snap)
    if release is None:
        steps.append(Step("hold", f"no shift start within {HOLD_HORIZON_DAYS} days; cannot hold"))
        return fallback(ctx, rule)
    at, cid = release
    steps.append(Step("hold", f"held until {at.isoformat()} (next shift start: {cid})", cid))
    return Decision(
        lead_id=ctx.lead.id,
        status=Status.HELD,
        owner=None,
        rule=rule.name,
        reason="held:after_hours",
        explanation=tuple(steps),
        decided_at=ctx.ev.now,
        release_at=at,
    )


def _pool(
    ctx: Ctx, index: int, crule: CRule, attrs: dict[str, str]
) -> tuple[tuple[str, ...], str]:
    rule = crule.rule
    if not rule.pool.nearest_facility:
        return crule.base, rule.name
    level_attr = ctx.cr.rulebook.level_of_care_attribute
    level = attrs.get(level_attr)
    shown = f"{level_attr}={level}" if level is not None else f"no {level_attr} (any level)"
    offering = ctx.cr.offering(level)
    if not offering:
        ctx.steps.append(Step("facility", f"no facility offers {shown}"))
        return (), rule.name
    location = ctx.lead.location
    if location is None:
        ids = tuple(f.id for f in offering)
        ctx.steps.append(
            Step(
                "facility",
                f"lead has no location: every facility offering {shown}: " + ", ".join(ids),
            )
        )
        return ctx.cr.geo_pool(index, ids), rule.name
    found = nearest(offering, location)
    assert found is not None
    facility, km = found
    ctx.steps.append(
        Step("facility", f"nearest facility offering {shown}: {facility.id} ({km:.1f} km)")
    )
    return ctx.cr.geo_pool(index, (facility.id,)), f"{rule.name}@{facility.id}"


def _pick(
    ctx: Ctx,
    rule: Rule,
    key: str,
    eligible: list[str],
    pool: frozenset[str],
) -> tuple[Pick, str]:
    roster = ctx.roster
    last = roster.last_assigned.get(key)
    strategy = rule.strategy
    if strategy is Strategy.LEAST_LOADED:
        return least_loaded(eligible, roster.open_counts, last), "least_loaded"
    if strategy is Strategy.WEIGHTED_ROUND_ROBIN:
        coords = ctx.cr.coords
        weights = {cid: coords[cid].coordinator.weight for cid in eligible}
        current = roster.weights.get(key, {})
        return smooth_weighted(eligible, weights, current, pool, last), "weighted_round_robin"
    if strategy is Strategy.STICKY:
        prev = ctx.lead.previous_owner
        if prev is not None:
            if prev in eligible:
                return Pick(prev, f"sticky: returning contact goes back to {prev}"), "sticky"
            if prev not in pool:
                why = "not in this rule's pool"
            else:
                reason = reason_of(ctx.ev.assess(prev, ctx.cr.coords.get(prev)))
                why = str(reason) if reason is not None else "not eligible"
            ctx.steps.append(Step("sticky", f"previous owner {prev} not used: {why}", prev))
        else:
            ctx.steps.append(Step("sticky", "no previous owner: round robin"))
    return round_robin(eligible, last), "round_robin"


def _pointer(key: str, pick: Pick) -> PointerUpdate | None:
    if pick.last_assigned is None and pick.weights is None:
        return None
    return PointerUpdate(key=key, last_assigned=pick.last_assigned, weights=pick.weights)
