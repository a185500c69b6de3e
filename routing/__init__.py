"""The pure routing core: `route(lead, rulebook, roster, now) -> Decision` and
`apply_decision(roster, decision) -> RosterState`. No I/O, no logging, no clock."""

from routing.engine import route
from routing.state import apply_decision

__all__ = ["apply_decision", "route"]
