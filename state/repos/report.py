"""The report's queries: counts grouped in the database, durations computed there.

Every query is bound to the portal and to the leads the CRM created in `[since, until)` (the
window), except what is "right now" by definition (open leads, leads needing a person).
Durations come back as plain lists of seconds, never as lead rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, literal, or_, select
from sqlmodel import Session

from state.tables import (
    DEFAULT_PORTAL,
    AssignmentRow,
    LeadEventRow,
    LeadRow,
    LeadStatus,
    PassedOverRow,
)
from state.types import as_utc

_L = LeadRow.__table__.c  # type: ignore[attr-defined]
_A = AssignmentRow.__table__.c  # type: ignore[attr-defined]
_P = PassedOverRow.__table__.c  # type: ignore[attr-defined]
_E = LeadEventRow.__table__.c  # type: ignore[attr-defined]
# a lead the report counts as needing a person: waiting this long without an owner written
WAITING_AFTER_SECONDS = 300
_NOT_ARRIVED = (LeadStatus.SKIPPED.value,)


class ReportRepo:
    def __init__(self, session: Session, portal: str = DEFAULT_PORTAL) -> None:
        self.session = session
        self.portal = portal
        self.dialect = session.get_bind().dialect.name

    # -- building blocks ------------------------------------------------------------------

    def _seconds(self, later: Any, earlier: Any) -> ColumnElement[float]:
        """`later - earlier` in seconds, in SQL."""
        if self.dialect == "postgresql":
            return func.extract("epoch", later - earlier)  # type: ignore[return-value]
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0

    def _day(self, moment: Any) -> ColumnElement[str]:
        """The UTC date of a stored time, as YYYY-MM-DD, in SQL."""
        if self.dialect == "postgresql":
            return func.to_char(func.timezone("UTC", moment), "YYYY-MM-DD")
        return func.substr(moment, 1, 10)

    def _window(self, since: datetime, until: datetime) -> ColumnElement[bool]:
        return and_(_L.portal == self.portal,
                    _L.created_at >= as_utc(since),
                    _L.created_at < as_utc(until))

    def _assignments_in(self, since: datetime, until: datetime) -> Any:
        """Assignments of the window's leads (they carry their lead's creation time)."""
        return (select().select_from(AssignmentRow.__table__)  # type: ignore[attr-defined]
                .where(_A.portal == self.portal, _A.lead_created_at >= as_utc(since),
                       _A.lead_created_at < as_utc(until)))

    def sla_class(self, now: datetime) -> ColumnElement[str]:
        """met / breached / pending / overridden of one assignment (CONTRACTS Part 2)."""
        attempted = _A.attempt_at.is_not(None)
        in_time = or_(_A.sla_due.is_(None), _A.attempt_at <= _A.sla_due)
        return case(
            (_A.outcome == "overridden", literal("overridden")),
            (and_(attempted, in_time), literal("met")),
            (or_(_A.outcome == "breached", attempted,
                 _A.sla_due <= as_utc(now)), literal("breached")),
            else_=literal("pending"))

    # -- leads ----------------------------------------------------------------------------

    def lead_groups(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Counts of the window's leads by status, owner written, after-hours handling,
        whether the first owner came from a fallback, and source (one pass)."""
        owner = _L.first_owner_at.is_not(None)
        fallback = func.coalesce(_L.first_reason, "").like("fallback:%")
        stmt = (select(_L.status, owner, _L.after_hours, fallback, _L.source, func.count())
                .where(self._window(since, until))
                .group_by(_L.status, owner, _L.after_hours, fallback, _L.source))
        return [{"status": str(s), "owner_written": bool(o), "after_hours": h,
                 "fallback": bool(f), "source": src, "count": int(n)}
                for s, o, h, f, src, n in self.session.execute(stmt)]

    def durations(self, since: datetime, until: datetime
                  ) -> list[tuple[str | None, float | None, float | None]]:
        """(source, seconds to the first owner write, seconds to the first attempt) of each
        arrived lead with either (unordered: the caller sorts plain floats)."""
        to_owner = self._seconds(_L.first_owner_at, _L.created_at)
        to_attempt = self._seconds(_L.contacted_at, _L.created_at)
        stmt = (select(_L.source, to_owner, to_attempt)
                .where(self._window(since, until), _L.status.not_in(_NOT_ARRIVED),
                       or_(_L.first_owner_at.is_not(None), _L.contacted_at.is_not(None))))
        return [(s, None if o is None else max(0.0, float(o)),
                 None if a is None else max(0.0, float(a)))
                for s, o, a in self.session.execute(stmt)]

    # -- assignments ----------------------------------------------------------------------

    def pages(self, since: datetime, until: datetime) -> dict[str, int]:
        """On-call pages of the window's leads: sent (an on-call assignment, or the final
        owner at the end of a ladder), acknowledged (by link or contact attempt), passed on
        to the rotation's next person, escalated to the final owner."""
        paged = or_(_A.reason.like("on_call:%"), _A.kind == "page_escalated")
        stmt = (self._assignments_in(since, until).add_columns(
            func.count().filter(paged), func.count().filter(_A.kind == "passed_on"),
            func.count().filter(_A.kind == "page_escalated")))
        sent, passed_on, escalated = self.session.execute(stmt).one()
        acked = (select(func.count(func.distinct(_E.crm_id + "/" + func.cast(
                     _E.assignment, String))))
                 .select_from(LeadEventRow.__table__.join(  # type: ignore[attr-defined]
                     LeadRow.__table__, and_(  # type: ignore[attr-defined]
                         _L.portal == _E.portal, _L.crm == _E.crm, _L.crm_id == _E.crm_id)))
                 .where(_E.portal == self.portal, _E.event == "acknowledged",
                        self._window(since, until)))
        return {"sent": int(sent), "acknowledged": int(self.session.execute(acked).scalar_one()),
                "passed_on": int(passed_on), "escalated": int(escalated)}

    def assignment_groups(self, since: datetime, until: datetime, now: datetime
                          ) -> list[dict[str, Any]]:
        """Assignments of the window's leads by coordinator, rule, kind, SLA class and day."""
        sla, day = self.sla_class(now), self._day(_A.assigned_at)
        stmt = (self._assignments_in(since, until)
                .add_columns(_A.coordinator, _A.rule, _A.kind, sla, day, func.count())
                .group_by(_A.coordinator, _A.rule, _A.kind, sla, day))
        return [{"coordinator": c, "rule": r, "kind": k, "sla": s, "day": d, "count": int(n)}
                for c, r, k, s, d, n in self.session.execute(stmt)]

    def response_times(self, since: datetime, until: datetime
                       ) -> list[tuple[str, float]]:
        """(coordinator, seconds from their owner write to the contact attempt)."""
        seconds = self._seconds(_A.attempt_at, _A.owner_written_at)
        stmt = (self._assignments_in(since, until).add_columns(_A.coordinator, seconds)
                .where(_A.attempt_at.is_not(None), _A.owner_written_at.is_not(None)))
        return [(str(c), max(0.0, float(v))) for c, v in self.session.execute(stmt)]

    def passed_over(self, since: datetime, until: datetime) -> dict[tuple[str, str], int]:
        """(coordinator, why) -> how many routing decisions of the window's leads passed
        them over."""
        stmt = (select(_P.coordinator, _P.reason, func.count())
                .where(_P.portal == self.portal, _P.lead_created_at >= as_utc(since),
                       _P.lead_created_at < as_utc(until))
                .group_by(_P.coordinator, _P.reason))
        return {(str(c), str(r)): int(n) for c, r, n in self.session.execute(stmt)}

    def lead_rows(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """The window's leads, oldest first, as ids, times and categories (the CSV export);
        streamed in batches, never all at once."""
        stmt = (select(_L.crm_id, _L.created_at, _L.first_seen_at, _L.first_owner_at,
                       _L.contacted_at, _L.status, _L.owner.label("coordinator"),
                       _L.crm_owner_id, _L.rule, _L.assignment, _L.reassignments, _L.source,
                       _L.after_hours, _L.first_reason)
                .where(self._window(since, until)).order_by(_L.created_at, _L.id))
        result = self.session.execute(stmt.execution_options(yield_per=1000))
        for row in result.mappings():
            yield dict(row)

    # -- right now ------------------------------------------------------------------------

    def needing_a_person(self, now: datetime, *, limit: int = 200) -> list[dict[str, Any]]:
        """Leads a person should look at now, oldest first: held, unroutable, set aside,
        breached, and those still without an owner written after a few minutes."""
        waiting = and_(_L.first_owner_at.is_(None),
                       _L.status.in_(_statuses(
                           LeadStatus.SEEN, LeadStatus.ROUTED, LeadStatus.REASSIGNED)),
                       _L.first_seen_at
                       <= as_utc(now) - timedelta(seconds=WAITING_AFTER_SECONDS))
        flagged = _L.status.in_(_statuses(
            LeadStatus.HELD, LeadStatus.UNROUTABLE, LeadStatus.SET_ASIDE, LeadStatus.BREACHED))
        stmt = (select(_L.crm_id, _L.status, _L.owner, _L.rule,
                       _L.first_reason, _L.held_until, _L.first_seen_at,
                       _L.updated_at, _L.sla_due)
                # every case names its statuses: the (portal, status) index finds them
                .where(_L.portal == self.portal, _L.status.in_(_statuses(*_NEEDING)),
                       or_(flagged, waiting))
                .order_by(_L.first_seen_at, _L.id).limit(limit))
        keys = ("crm_id", "status", "owner", "rule", "first_reason", "held_until",
                "first_seen_at", "updated_at", "sla_due")
        return [dict(zip(keys, row, strict=True)) for row in self.session.execute(stmt)]


_NEEDING = (LeadStatus.HELD, LeadStatus.UNROUTABLE, LeadStatus.SET_ASIDE, LeadStatus.BREACHED,
            LeadStatus.SEEN, LeadStatus.ROUTED, LeadStatus.REASSIGNED)


def _statuses(*statuses: LeadStatus) -> Iterable[str]:
    return [s.value for s in statuses]
