"""Round-robin pointers and the roster state routing needs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from routing.models import PointerUpdate, RosterState
from state.repos._sql import dialect_name, upsert
from state.repos.leads import LeadRepo
from state.tables import DEFAULT_PORTAL, PointerRow

_T = PointerRow.__table__  # type: ignore[attr-defined]
# Held for the rest of the transaction by whoever routes (PostgreSQL); SQLite's
# BEGIN IMMEDIATE already serialises writers.
ROUTING_LOCK = 0x1EAD_0002


class PointerRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal

    def lock_routing(self) -> None:
        """Serialise routing decisions across workers until the transaction ends.

        Round robin reads a pointer and writes the next one; two workers doing that at once
        on PostgreSQL would pick the same coordinator. A transaction-scoped advisory lock
        makes read-route-write atomic. No-op on SQLite (the write lock is already held).
        """
        if dialect_name(self.session) == "postgresql":
            # one lock per portal: portals never share a pointer or a coordinator's count
            self.session.execute(select(func.pg_advisory_xact_lock(
                ROUTING_LOCK, func.hashtext(self.portal))))

    def load_roster(self, away: frozenset[str] = frozenset(), *, lock: bool = True) -> RosterState:
        """Open counts and pointers as routing's `RosterState`.

        With `lock` (the default) the routing lock is taken first, so the roster stays
        true until this unit of work commits the decision and `save_pointer`.
        """
        if lock:
            self.lock_routing()
        last: dict[str, str] = {}
        weights: dict[str, dict[str, int]] = {}
        for key, last_assigned, w in self.session.execute(
            select(_T.c.key, _T.c.last_assigned, _T.c.weights).where(_T.c.portal == self.portal)
        ):
            if last_assigned is not None:
                last[str(key)] = str(last_assigned)
            if w:
                weights[str(key)] = {str(c): int(v) for c, v in dict(w).items()}
        return RosterState(
            open_counts=LeadRepo(self.session, self.portal).open_counts(),
            last_assigned=last,
            weights=weights,
            away=frozenset(away),
        )

    def save_pointer(self, update: PointerUpdate) -> None:
        """Upsert; a field left None in the update keeps its stored value."""
        values: dict[str, object] = {"portal": self.portal, "key": update.key}
        changes: dict[str, object] = {}
        if update.last_assigned is not None:
            changes["last_assigned"] = update.last_assigned
        if update.weights is not None:
            changes["weights"] = {str(k): int(v) for k, v in update.weights.items()}
        values.update(changes)
        values.setdefault("weights", {})
        if not changes:
            changes = {"key": update.key}
        upsert(self.session, PointerRow, values, ["portal", "key"], changes)

    def get(self, key: str) -> PointerUpdate | None:
        row = self.session.execute(
            select(_T.c.last_assigned, _T.c.weights).where(_T.c.portal == self.portal,
                                                           _T.c.key == key)
        ).first()
        if row is None:
            return None
        return PointerUpdate(key=key, last_assigned=row[0], weights=dict(row[1] or {}))
