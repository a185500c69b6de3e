"""SQLModel tables of the state store.

PHI rule: a lead row holds CRM ids, timestamps, coordinator ids and the routing attributes
the caller passes (insurance category, state, zip, source, level of care) -- never names,
emails, phones or free text. The inbox keeps the fields the pipeline needs, never a raw
webhook payload (HubSpot's `propertyValue` may be PHI).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from state.types import JsonType, UTCDateTime

# Today's single-config setup is one portal (one CRM connection); every row carries its id.
DEFAULT_PORTAL = "default"


class LeadStatus(StrEnum):
    """Lead lifecycle (see DESIGN.md)."""

    SEEN = "seen"
    ROUTED = "routed"
    OWNER_WRITTEN = "owner_written"
    TASK_CREATED = "task_created"
    CONTACTED = "contacted"
    BREACHED = "breached"
    HELD = "held"
    SKIPPED = "skipped"
    OVERRIDDEN = "overridden"
    UNROUTABLE = "unroutable"
    REASSIGNED = "reassigned"  # breached, then routed to another coordinator
    ESCALATED_FINAL = "escalated_final"
    # the record could not be recorded or routed (a failure of its data or of our code); kept
    # by CRM id with the reason, re-evaluated when the record changes or the service restarts
    SET_ASIDE = "set_aside"


# Assigned to a coordinator and not yet contacted: these count against capacity.
OPEN_STATUSES: frozenset[LeadStatus] = frozenset(
    {LeadStatus.ROUTED, LeadStatus.REASSIGNED, LeadStatus.OWNER_WRITTEN,
     LeadStatus.TASK_CREATED, LeadStatus.BREACHED}
)
# The SLA clock is running for the current owner.
SLA_RUNNING_STATUSES: frozenset[LeadStatus] = frozenset(
    {LeadStatus.ROUTED, LeadStatus.REASSIGNED, LeadStatus.OWNER_WRITTEN, LeadStatus.TASK_CREATED}
)
# Nothing more will happen to the lead (apart from measuring contact for overridden ones).
TERMINAL_STATUSES: frozenset[LeadStatus] = frozenset(
    {
        LeadStatus.CONTACTED,
        LeadStatus.SKIPPED,
        LeadStatus.OVERRIDDEN,
        LeadStatus.UNROUTABLE,
        LeadStatus.ESCALATED_FINAL,
        LeadStatus.SET_ASIDE,
    }
)


class AuditKind(StrEnum):
    ARRIVED = "arrived"
    DECISION = "decision"
    HELD = "held"
    RELEASED = "released"
    OWNER_WRITTEN = "owner_written"
    TASK_CREATED = "task_created"
    CONTACT_ATTEMPT = "contact_attempt"
    BREACH = "breach"
    ESCALATION = "escalation"
    OVERRIDDEN = "overridden"
    SKIPPED = "skipped"
    UNROUTABLE = "unroutable"
    SET_ASIDE = "set_aside"
    REEVALUATED = "reevaluated"  # a skipped or set-aside lead changed and is routed now
    RETRY = "retry"  # an unroutable lead tried again
    ERROR = "error"
    NOTIFIED = "notified"  # a notification reached its channel
    NOTIFY_FAILED = "notify_failed"  # a notification was given up
    ACKNOWLEDGED = "acknowledged"  # an owner took an on-call page


class OutboxKind(StrEnum):
    OWNER = "owner"
    TASK = "task"
    METADATA = "metadata"
    NOTIFY = "notify"  # a message to a coordinator (email, Slack, SMS), not a CRM write
    PAGE_CHECK = "page_check"  # due when an on-call page's ack_within ends: pass it on?


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class LeadRow(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (
        UniqueConstraint("portal", "crm", "crm_id", name="uq_lead_portal_crm_id"),
        Index("ix_lead_portal_status_sla_due", "portal", "status", "sla_due"),
        Index("ix_lead_portal_status_held_until", "portal", "status", "held_until"),
        Index("ix_lead_portal_status_owner", "portal", "status", "owner"),
        Index("ix_lead_portal_created", "portal", "created_at"),
        # covers the report's scans of a window (no row lookups)
        Index("ix_lead_report", "portal", "created_at", "status", "first_owner_at",
              "contacted_at", "after_hours", "first_reason", "source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)  # creation time in the CRM
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    status: str = Field(default=LeadStatus.SEEN.value, max_length=24)
    owner: str | None = Field(default=None, max_length=128)  # coordinator id
    crm_owner_id: str | None = Field(default=None, max_length=64)
    assignment: int = 0  # +1 per routing; part of outbox idempotency keys
    rule: str | None = Field(default=None, max_length=128)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner_written_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    held_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reassignments: int = 0
    excluded: list[str] = Field(default_factory=list, sa_type=JsonType)
    previous_owner: str | None = Field(default=None, max_length=128)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # -- facts the report groups and measures by (set once, by the lifecycle) --
    source: str | None = Field(default=None, max_length=64)  # the `source` attribute's token
    first_owner_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # CRM accepted
    first_reason: str | None = Field(default=None, max_length=64)  # first decision's reason
    # the first decision found nobody on shift: how it was handled (held, on_call, assigned,
    # unroutable); None when someone was on shift
    after_hours: str | None = Field(default=None, max_length=16)


class AssignmentRow(SQLModel, table=True):
    """One assignment of a lead (each re-assignment is a new one with its own deadline): the
    report's read model, kept by a subscriber to lead events (`sync/report/projection.py`)."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("portal", "crm", "crm_id", "number", name="uq_assignment_lead_number"),
        Index("ix_assignment_portal_coordinator", "portal", "coordinator"),
        Index("ix_assignment_report", "portal", "lead_created_at", "coordinator", "rule",
              "kind", "outcome", "sla_due", "attempt_at", "assigned_at", "owner_written_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    number: int  # the lead's assignment counter for this assignment
    lead_created_at: datetime = Field(sa_type=UTCDateTime)  # the report's window, no join
    kind: str = Field(max_length=16)  # routed | reassigned | escalated_final
    coordinator: str = Field(max_length=128)
    rule: str | None = Field(default=None, max_length=128)
    reason: str | None = Field(default=None, max_length=64)
    assigned_at: datetime = Field(sa_type=UTCDateTime)
    sla_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner_written_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=16)  # met | breached | overridden


class PassedOverRow(SQLModel, table=True):
    """A coordinator a routing decision passed over, and why (off_shift, at_capacity, pto,
    away...): the report's answer to "why didn't Maria get any leads yesterday?"."""

    __tablename__ = "passed_over"
    __table_args__ = (Index("ix_passed_over_report", "portal", "lead_created_at", "coordinator",
                            "reason"),)

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    lead_created_at: datetime = Field(sa_type=UTCDateTime)  # the report's window, no join
    coordinator: str = Field(max_length=128)
    reason: str = Field(max_length=24)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_portal_lead_at", "portal", "crm", "crm_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=24)
    coordinator: str | None = Field(default=None, max_length=128)
    rule: str | None = Field(default=None, max_length=128)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)


class PointerRow(SQLModel, table=True):
    __tablename__ = "pointer"

    portal: str = Field(default=DEFAULT_PORTAL, primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    last_assigned: str | None = Field(default=None, max_length=128)
    weights: dict[str, int] = Field(default_factory=dict, sa_type=JsonType)


class CursorRow(SQLModel, table=True):
    __tablename__ = "cursor"

    portal: str = Field(default=DEFAULT_PORTAL, primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=255)
    value: str = Field(max_length=1024)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("portal", "key", name="uq_outbox_portal_key"),
        Index("ix_outbox_portal_status_next", "portal", "status", "next_attempt_at"),
        Index("ix_outbox_portal_status_kind_id", "portal", "status", "kind", "id"),
        Index("ix_outbox_portal_lead", "portal", "crm", "crm_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    key: str = Field(max_length=255)  # idempotency key, e.g. lead/<id>/v2/task
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: str | None = Field(default=None, max_length=255)


class InboxRow(SQLModel, table=True):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("portal", "dedupe_key", name="uq_inbox_portal_dedupe_key"),
        Index("ix_inbox_portal_unprocessed", "portal", "processed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    source: str = Field(max_length=16)
    dedupe_key: str = Field(max_length=255)
    crm_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LeadEventRow(SQLModel, table=True):
    """One change of a lead, appended in the transaction that made it (never updated).

    Ids and categories only: `detail` holds small typed facts (a due time, a signal kind, a
    reason code), never a value the lead carried.
    """

    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_portal_lead", "portal", "crm", "crm_id", "id"),
        Index("ix_lead_events_portal_at", "portal", "at"),
        Index("ix_lead_events_portal_event_at", "portal", "event", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    portal: str = Field(default=DEFAULT_PORTAL, max_length=64)
    crm: str = Field(max_length=16)
    crm_id: str = Field(max_length=64)
    assignment: int = 0
    event: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    coordinator: str | None = Field(default=None, max_length=128)
    rule: str | None = Field(default=None, max_length=128)
    at: datetime = Field(sa_type=UTCDateTime)
    audit_id: int | None = None  # the audit row written with it (the routing explanation)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)


class AvailabilityRow(SQLModel, table=True):
    """A coordinator marked away: by `leadrouter away` (source "cli", optionally until a
    time) or by the CRM's own availability status (source "crm"). A row whose `until` has
    passed means "back": the availability step deletes it and retries the waiting leads."""

    __tablename__ = "availability"

    portal: str = Field(default=DEFAULT_PORTAL, primary_key=True, max_length=64)
    coordinator: str = Field(primary_key=True, max_length=128)
    source: str = Field(primary_key=True, max_length=16)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IntakeFolderRow(SQLModel, table=True):
    """Per mailbox folder: its UIDVALIDITY and the highest UID read (email intake)."""

    __tablename__ = "intake_folder"

    portal: str = Field(default=DEFAULT_PORTAL, primary_key=True, max_length=64)
    mailbox: str = Field(primary_key=True, max_length=64)
    folder: str = Field(primary_key=True, max_length=255)
    uidvalidity: int = Field(sa_type=BigInteger)
    last_uid: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IntakeMessageRow(SQLModel, table=True):
    """One email-delivered lead by message key (a hash): intent, CRM record, where it went.

    Hashes, ids and categories only; never an address, a subject or a body (PHI)."""

    __tablename__ = "intake_message"
    __table_args__ = (Index("ix_intake_message_portal_state", "portal", "state", "updated_at"),)

    portal: str = Field(default=DEFAULT_PORTAL, primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=16)  # intent | recorded | processed | review
    format: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=64)  # why it went to review
    crm: str | None = Field(default=None, max_length=16)
    crm_id: str | None = Field(default=None, max_length=64)
    outcome: str | None = Field(default=None, max_length=16)  # created | routed | follow_up
    arrived_at: datetime = Field(sa_type=UTCDateTime)  # the message's INTERNALDATE
    intent_at: datetime = Field(sa_type=UTCDateTime)  # first recorded (before any create)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0


class SchemaMetaRow(SQLModel, table=True):
    __tablename__ = "schema_meta"

    id: int = Field(default=1, primary_key=True)  # a single row
    version: int
    updated_at: datetime = Field(sa_type=UTCDateTime)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# Creation order (no foreign keys between them today, but keep it deterministic).
STATE_TABLES: tuple[Table, ...] = tuple(
    _table(m)
    for m in (LeadRow, AuditRow, PointerRow, CursorRow, OutboxRow, InboxRow, LeadEventRow,
              AssignmentRow, PassedOverRow, AvailabilityRow, IntakeFolderRow, IntakeMessageRow,
              SchemaMetaRow)
)
