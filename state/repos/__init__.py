"""Repositories: small query objects bound to one unit of work's session."""

from state.repos.assignments import AssignmentRepo
from state.repos.audit import AuditRepo
from state.repos.availability import AvailabilityRepo
from state.repos.cursors import CursorRepo
from state.repos.events import LeadEventRepo
from state.repos.inbox import InboxRepo
from state.repos.intake import IntakeRepo
from state.repos.leads import LeadRepo
from state.repos.outbox import OutboxRepo
from state.repos.pointers import PointerRepo
from state.repos.report import ReportRepo

__all__ = ["AssignmentRepo", "AuditRepo", "AvailabilityRepo", "CursorRepo", "InboxRepo",
           "IntakeRepo", "LeadEventRepo", "LeadRepo", "OutboxRepo", "PointerRepo", "ReportRepo"]
