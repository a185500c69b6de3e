"""The routing report (CONTRACTS Part 2): what `report --json` prints and `/api/report` serves.

Counts are grouped in the database (`state/repos/report.py`); this module only arranges them
into the contract's keys, plus what the dashboard draws (SLA bands, attainment by day, why
coordinators were passed over, the leads that need a person now).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from state import Store
from sync.config import Config
from sync.when import parse_when

__all__ = ["build_report", "parse_when", "percentile"]

# SLA bands of the time-to-owner and time-to-first-attempt distributions (upper bounds, s)
BANDS = (("0-5m", 300.0), ("5-15m", 900.0), ("15-60m", 3600.0), ("60m+", math.inf))
PASSED_OVER_REASONS = ("off_shift", "holiday", "pto", "away", "at_capacity",
                       "previously_failed")


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None when empty."""
    if not ordered:
        return None
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _summary(ordered: Sequence[float]) -> dict[str, Any]:
    return {"n": len(ordered), "p50": _round(percentile(ordered, 0.5)),
            "p90": _round(percentile(ordered, 0.9)),
            "max": _round(ordered[-1]) if ordered else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _bands(values: Sequence[float]) -> dict[str, int]:
    out = dict.fromkeys((name for name, _ in BANDS), 0)
    for value in values:
        out[next(name for name, bound in BANDS if value < bound)] += 1
    return out


def _leads(groups: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    leads = dict.fromkeys(("arrived", "assigned", "held", "unroutable", "waiting", "skipped",
                           "fallback"), 0)
    after = dict.fromkeys(("arrived", "held", "on_call"), 0)
    for g in groups:
        n = g["count"]
        if g["status"] == "skipped":
            leads["skipped"] += n
            continue
        leads["arrived"] += n
        if g["owner_written"]:
            leads["assigned"] += n
            leads["fallback"] += n if g["fallback"] else 0
        elif g["status"] in ("held", "unroutable"):
            leads[g["status"]] += n
        else:
            leads["waiting"] += n
        if g["after_hours"]:
            after["arrived"] += n
            if g["after_hours"] in ("held", "on_call"):
                after[g["after_hours"]] += n
    return leads, after


def _why(row: dict[str, Any]) -> tuple[str, str]:
    """The list status and why, from ids and categories only."""
    status = row["status"]
    if status == "held":
        until = row["held_until"].isoformat() if row["held_until"] else "the next shift"
        return "held", f"nobody on shift; held until {until}"
    if status == "unroutable":
        return "unroutable", f"no owner could be chosen ({row['first_reason'] or 'unknown'})"
    if status == "breached":
        return "breached", f"no contact attempt by {row['owner'] or 'its owner'} in time"
    if status == "set_aside":
        return "waiting", "set aside: the record could not be processed (see explain)"
    return "waiting", "no owner written to the CRM yet (a CRM write pending or failing)"


def build_report(store: Store, config: Config, *, since: datetime, until: datetime,
                 now: datetime, link: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The report of the leads the CRM created in `[since, until)`, as of `now`."""
    with store.unit_of_work(read_only=True) as uow:
        lead_groups = uow.report.lead_groups(since, until)
        durations = uow.report.durations(since, until)
        assignments = uow.report.assignment_groups(since, until, now)
        responses = uow.report.response_times(since, until)
        skipped = uow.report.passed_over(since, until)
        needing = uow.report.needing_a_person(now)
        pages = uow.report.pages(since, until)
        open_counts = uow.leads.open_counts()
        intake = uow.intake.counts(since, until) if config.intake is not None else None
    leads, after_hours = _leads(lead_groups)
    sources: Counter[str | None] = Counter()
    for g in lead_groups:
        if g["status"] != "skipped":
            sources[g["source"]] += g["count"]
    to_owner = sorted(o for _, o, _ in durations if o is not None)
    to_attempt = sorted(((a, s) for s, _, a in durations if a is not None),
                        key=lambda pair: pair[0])
    sla: Counter[str] = Counter()
    escalations = {"reassigned": 0, "final": 0}
    per_coordinator: dict[str, Counter[str]] = defaultdict(Counter)
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    for g in assignments:
        n = g["count"]
        sla[g["sla"]] += n
        by_day[g["day"]][g["sla"]] += n
        escalations["reassigned"] += n if g["kind"] == "reassigned" else 0
        escalations["final"] += n if g["kind"] == "escalated_final" else 0
        for table, key in ((per_coordinator, g["coordinator"]), (per_rule, g["rule"])):
            table[key]["assigned"] += n
            table[key][g["sla"]] += n
    response: dict[str, list[float]] = defaultdict(list)
    for coordinator, seconds in sorted(responses, key=lambda r: r[1]):
        response[coordinator].append(seconds)
    attempt_by_source: dict[str | None, list[float]] = defaultdict(list)
    for seconds, source in to_attempt:
        attempt_by_source[source].append(seconds)
    attempts = [seconds for seconds, _ in to_attempt]
    return {
        "window": {"since": since.astimezone(UTC).isoformat(),
                   "until": until.astimezone(UTC).isoformat()},
        "generated_at": now.astimezone(UTC).isoformat(),
        "leads": leads,
        "time_to_owner_seconds": _summary(to_owner),
        "time_to_first_attempt_seconds": _summary(attempts),
        "time_to_owner_bands": _bands(to_owner),
        "time_to_first_attempt_bands": _bands(attempts),
        "sla": {k: sla[k] for k in ("met", "breached", "pending", "overridden")},
        "sla_by_day": [{"day": day, **{k: by_day[day][k] for k in
                                       ("met", "breached", "pending", "overridden")}}
                       for day in sorted(by_day)],
        "escalations": escalations,
        "pages": pages,
        "after_hours": after_hours,
        "coordinators": [
            {"id": c.id, "assigned": per_coordinator[c.id]["assigned"],
             "open": open_counts.get(c.id, 0), "met": per_coordinator[c.id]["met"],
             "breached": per_coordinator[c.id]["breached"],
             "response_p50_seconds": _round(percentile(response[c.id], 0.5)),
             "capacity": c.capacity,
             "passed_over": {r: skipped.get((c.id, r), 0) for r in PASSED_OVER_REASONS}}
            for c in config.rulebook.coordinators.values()],
        "rules": [{"name": r.name, "assigned": per_rule[r.name]["assigned"],
                   "met": per_rule[r.name]["met"], "breached": per_rule[r.name]["breached"]}
                  for r in config.rulebook.rules],
        "sources": [{"source": source, "arrived": n,
                     "time_to_first_attempt_p50_seconds":
                         _round(percentile(attempt_by_source.get(source, []), 0.5))}
                    for source, n in sorted(sources.items(), key=lambda kv: (-kv[1],
                                                                              kv[0] or ""))],
        "needs_person": [
            {"crm_id": row["crm_id"], "status": status, "why": why,
             "since": row["first_seen_at"].astimezone(UTC).isoformat(),
             "coordinator": row["owner"], "rule": row["rule"],
             "link": link(row["crm_id"]) if link else None}
            for row, (status, why) in ((row, _why(row)) for row in needing)],
        **({} if intake is None else {"email_intake": email_intake(intake)}),
    }


def email_intake(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Messages of the window: made into leads (by format), waiting, sent to review (by
    reason). Counts only: messages are never stored."""
    review: Counter[str] = Counter()
    by_format: Counter[str] = Counter()
    waiting = 0
    for (state, label), n in counts.items():
        if state == "review":
            review[label] += n
        elif state == "intent":
            waiting += n
        else:
            by_format[label] += n
    return {"leads": sum(by_format.values()), "by_format": dict(sorted(by_format.items())),
            "waiting": waiting, "review": sum(review.values()),
            "review_reasons": dict(sorted(review.items()))}
