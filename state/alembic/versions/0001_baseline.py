"""Baseline: schema version 1, the tables `SQLModel.metadata.create_all` made before Alembic.

Written out column by column (not `create_all`) so it stays what version 1 was when the
models change: later revisions migrate from exactly this. Types are spelled here rather
than imported from `state.types` for the same reason (their DDL: `DATETIME`/`timestamptz`
for UTCDateTime, `JSON`/`JSONB` for JsonType). A database made by the pre-Alembic code is
stamped at this revision, never upgraded through it.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("first_seen_at", _utc(), nullable=False),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("crm_owner_id", sa.String(64), nullable=True),
        sa.Column("assignment", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("assigned_at", _utc(), nullable=True),
        sa.Column("owner_written_at", _utc(), nullable=True),
        sa.Column("sla_due", _utc(), nullable=True),
        sa.Column("held_until", _utc(), nullable=True),
        sa.Column("contacted_at", _utc(), nullable=True),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.Column("excluded", _json(), nullable=False),
        sa.Column("previous_owner", sa.String(128), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("crm", "crm_id", name="uq_lead_crm_id"),
    )
    op.create_index("ix_lead_status_held_until", "lead", ["status", "held_until"])
    op.create_index("ix_lead_status_owner", "lead", ["status", "owner"])
    op.create_index("ix_lead_status_sla_due", "lead", ["status", "sla_due"])

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=True),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_lead_at", "audit", ["crm", "crm_id", "at"])

    op.create_table(
        "pointer",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("last_assigned", sa.String(128), nullable=True),
        sa.Column("weights", _json(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "cursor",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(1024), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("done_at", _utc(), nullable=True),
        sa.Column("result", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        # unnamed, as create_all made it (PostgreSQL names it outbox_key_key)
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_lead", "outbox", ["crm", "crm_id"])

    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", _utc(), nullable=True),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("processed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_inbox_unprocessed", "inbox", ["processed_at", "id"])

    # Kept after Alembic: releases before it read the version here and refuse a newer
    # database; state.migrations keeps it equal to the Alembic revision's number.
    op.create_table(
        "schema_meta",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # Going below the baseline means deleting the store: refused rather than offered.
    raise NotImplementedError("the baseline revision cannot be downgraded")
