"""The state tables as release 1 (schema version 1, before Alembic) made them.

The live models in `state/tables.py` have moved on (a portal on every table, lead events);
tests that rebuild a previous release's database use these frozen definitions instead,
spelled as the pre-Alembic `SQLModel.metadata.create_all` made them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from state.types import JsonType, UTCDateTime

V1 = MetaData()


def _utc(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, UTCDateTime(), nullable=nullable)


LEAD = Table(
    "lead", V1,
    Column("id", Integer, nullable=False),
    Column("crm", String(16), nullable=False),
    Column("crm_id", String(64), nullable=False),
    _utc("created_at"), _utc("first_seen_at"),
    Column("attributes", JsonType, nullable=False),
    Column("status", String(24), nullable=False),
    Column("owner", String(128)), Column("crm_owner_id", String(64)),
    Column("assignment", Integer, nullable=False),
    Column("rule", String(128)),
    _utc("assigned_at", True), _utc("owner_written_at", True), _utc("sla_due", True),
    _utc("held_until", True), _utc("contacted_at", True),
    Column("reassignments", Integer, nullable=False),
    Column("excluded", JsonType, nullable=False),
    Column("previous_owner", String(128)),
    _utc("updated_at"),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("crm", "crm_id", name="uq_lead_crm_id"),
    Index("ix_lead_status_sla_due", "status", "sla_due"),
    Index("ix_lead_status_held_until", "status", "held_until"),
    Index("ix_lead_status_owner", "status", "owner"),
)  # fmt: skip
AUDIT = Table(
    "audit", V1,
    Column("id", Integer, nullable=False),
    Column("crm", String(16), nullable=False),
    Column("crm_id", String(64), nullable=False),
    _utc("at"),
    Column("kind", String(24), nullable=False),
    Column("coordinator", String(128)), Column("rule", String(128)),
    Column("detail", JsonType, nullable=False),
    PrimaryKeyConstraint("id"),
    Index("ix_audit_lead_at", "crm", "crm_id", "at"),
)  # fmt: skip
POINTER = Table(
    "pointer", V1,
    Column("key", String(255), nullable=False),
    Column("last_assigned", String(128)),
    Column("weights", JsonType, nullable=False),
    PrimaryKeyConstraint("key"),
)  # fmt: skip
CURSOR = Table(
    "cursor", V1,
    Column("name", String(255), nullable=False),
    Column("value", String(1024), nullable=False),
    _utc("updated_at"),
    PrimaryKeyConstraint("name"),
)  # fmt: skip
OUTBOX = Table(
    "outbox", V1,
    Column("id", Integer, nullable=False),
    Column("key", String(255), nullable=False, unique=True),
    Column("crm", String(16), nullable=False),
    Column("crm_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JsonType, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(200)),
    _utc("created_at"), _utc("next_attempt_at"), _utc("done_at", True),
    Column("result", String(255)),
    PrimaryKeyConstraint("id"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_lead", "crm", "crm_id"),
)  # fmt: skip
INBOX = Table(
    "inbox", V1,
    Column("id", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("crm_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    _utc("occurred_at", True), _utc("received_at"), _utc("processed_at", True),
    PrimaryKeyConstraint("id"),
    Index("ix_inbox_unprocessed", "processed_at", "id"),
)  # fmt: skip
SCHEMA_META = Table(
    "schema_meta", V1,
    Column("id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    _utc("updated_at"),
    PrimaryKeyConstraint("id"),
)  # fmt: skip

V1_TABLES: tuple[Table, ...] = (LEAD, AUDIT, POINTER, CURSOR, OUTBOX, INBOX, SCHEMA_META)
