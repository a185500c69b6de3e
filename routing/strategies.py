"""Pick one coordinator among the eligible ones. Pure functions over sorted id tuples.

Round-robin order is the sorted coordinator ids of the pool. "After the last one assigned"
means the first eligible id that sorts after it, wrapping around, which works whether or not
that coordinator is still in the pool (or still exists).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pick:
    coordinator: str
    detail: str
    last_assigned: str | None = None  # new round-robin pointer, if the strategy uses one
    weights: Mapping[str, int] | None = None  # new smooth-WRR state, if used


def next_after(eligible: Sequence[str], last: str | None) -> str:
    """`eligible` is sorted and non-empty."""
    if last is None:
        return eligible[0]
    i = bisect_right(eligible, last)
    return eligible[i] if i < len(eligible) else eligible[0]


def round_robin(eligible: Sequence[str], last: str | None) -> Pick:
    chosen = next_after(eligible, last)
    before = last if last is not None else "(none)"
    return Pick(chosen, f"round robin: pointer {before} -> {chosen}", last_assigned=chosen)


def least_loaded(eligible: Sequence[str], open_counts: Mapping[str, int], last: str | None) -> Pick:
    loads = {cid: open_counts.get(cid, 0) for cid in eligible}
    low = min(loads.values())
    tied = [cid for cid in eligible if loads[cid] == low]
    chosen = next_after(tied, last)
    compared = ", ".join(f"{cid}={n}" for cid, n in loads.items())
    tie = ""
    if len(tied) > 1:
        before = last if last is not None else "(none)"
        tie = f"; tie among {', '.join(tied)} broken by round robin after {before}"
    return Pick(chosen, f"least loaded: open leads {compared}{tie}", last_assigned=chosen)


def smooth_weighted(
    eligible: Sequence[str],
    weights: Mapping[str, int],
    current: Mapping[str, int],
    pool: frozenset[str],
    last: str | None,
) -> Pick:
    """Smooth weighted round robin (nginx): every eligible peer gains its weight, the largest
    current weight wins (ties: lowest id) and loses the total. Peers that are not eligible keep
    their current weight untouched; ids no longer in the pool are dropped from the state.
    Peers with weight <= 0 are never picked; if all are, plain round robin decides."""
    positive = [cid for cid in eligible if weights.get(cid, 1) > 0]
    if not positive:
        rr = round_robin(eligible, last)
        return Pick(
            rr.coordinator,
            "weighted round robin: all weights 0; " + rr.detail,
            last_assigned=rr.coordinator,
            weights=dict(current),
        )
    state = {cid: w for cid, w in current.items() if cid in pool}
    total = 0
    best: str | None = None
    best_weight = 0
    for cid in positive:
        w = weights.get(cid, 1)
        total += w
        cw = state.get(cid, 0) + w
        state[cid] = cw
        if best is None or cw > best_weight:
            best, best_weight = cid, cw
    assert best is not None
    state[best] -= total
    shown = ", ".join(
        f"{cid}:w{weights.get(cid, 1)}/cur{state[cid] + (total if cid == best else 0)}"
        for cid in positive
    )
    return Pick(
        best,
        f"weighted round robin: {shown}; total {total}; {best} picked",
        last_assigned=best,
        weights=state,
    )
