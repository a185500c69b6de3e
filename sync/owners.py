"""Coordinators <-> CRM owners, resolved and checked once at start.

A coordinator whose owner is unknown, inactive or archived is reported and treated as
away: the router never picks them and no write ever names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.base import CrmOwner
from routing.models import Coordinator


@dataclass(frozen=True)
class OwnerDirectory:
    owner_of: Mapping[str, str]  # coordinator id -> CRM owner id (usable ones only)
    coordinator_of: Mapping[str, str]  # CRM owner id -> coordinator id
    unusable: Mapping[str, str] = field(default_factory=dict)  # coordinator -> why

    @property
    def unavailable(self) -> frozenset[str]:
        return frozenset(self.unusable)


def resolve_owners(coordinators: Mapping[str, Coordinator],
                   owners: Sequence[CrmOwner]) -> OwnerDirectory:
    by_id = {owner.id: owner for owner in owners}
    by_email = {owner.email.lower(): owner for owner in owners if owner.email}
    owner_of: dict[str, str] = {}
    unusable: dict[str, str] = {}
    for ident, coordinator in coordinators.items():
        if coordinator.crm_owner_id:
            owner = by_id.get(coordinator.crm_owner_id)
            label = f"crm_owner_id {coordinator.crm_owner_id}"
        else:
            owner = by_email.get((coordinator.email or "").lower())
            label = "email"
        if owner is None:
            unusable[ident] = f"{label} matches no CRM owner"
        elif not owner.active:
            unusable[ident] = f"{label} is an inactive or archived CRM owner"
        elif owner.is_queue:
            unusable[ident] = f"{label} is a queue, not a person"
        else:
            owner_of[ident] = owner.id
    return OwnerDirectory(owner_of, {v: k for k, v in owner_of.items()}, unusable)
