"""The pure routing core: `route(lead, rulebook, roster, now) -> Decision`,
`escalate(...)` for a lead past its deadline, and
`apply_decision(roster, decision) -> RosterState`. No I/O, no logging, no clock."""

from routing.engine import route
from routing.escalation import Escalation, escalate
from routing.state import apply_decision

__all__ = ["Escalation", "apply_decision", "escalate", "route"]
