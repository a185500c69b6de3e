"""Folding a Decision back into the roster state (what the store persists between calls)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from routing.models import Decision, RosterState, Status


def apply_decision(roster: RosterState, decision: Decision) -> RosterState:
    """The roster after `decision`: the owner's open-lead count + 1 when the lead was
    assigned, and the strategy pointer (round-robin last id / smooth-WRR weights) applied.
    Held and unroutable decisions change nothing. The input is not modified."""
    open_counts: Mapping[str, int] = roster.open_counts
    if decision.status is Status.ASSIGNED and decision.owner is not None:
        counts: dict[str, int] = dict(open_counts)
        counts[decision.owner] = counts.get(decision.owner, 0) + 1
        open_counts = MappingProxyType(counts)
    last_assigned: Mapping[str, str] = roster.last_assigned
    weights: Mapping[str, Mapping[str, int]] = roster.weights
    pointer = decision.pointer
    if pointer is not None:
        if pointer.last_assigned is not None:
            la = dict(last_assigned)
            la[pointer.key] = pointer.last_assigned
            last_assigned = MappingProxyType(la)
        if pointer.weights is not None:
            w: dict[str, Mapping[str, int]] = dict(weights)
            w[pointer.key] = MappingProxyType(dict(pointer.weights))
            weights = MappingProxyType(w)
    return RosterState(
        open_counts=open_counts, last_assigned=last_assigned, weights=weights, away=roster.away
    )
