"""Schema version 5: email intake.

`intake_folder` keeps, per mailbox folder, its UIDVALIDITY and the highest UID read, so a
poll asks only for new messages. `intake_message` is one row per message key (a hash of the
Message-ID, or of sender + date + body when there is none): the intent recorded before a CRM
create, the record it made or found, and where the message went. Hashes, ids and
categories only: never an address, a subject or a body.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "intake_folder",
        sa.Column("portal", sa.String(64), nullable=False, server_default="default"),
        sa.Column("mailbox", sa.String(64), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("portal", "mailbox", "folder"),
    )
    op.create_table(
        "intake_message",
        sa.Column("portal", sa.String(64), nullable=False, server_default="default"),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("format", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("crm", sa.String(16), nullable=True),
        sa.Column("crm_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("portal", "key"),
    )
    op.create_index("ix_intake_message_portal_state", "intake_message",
                    ["portal", "state", "updated_at"])


def downgrade() -> None:
    raise NotImplementedError("downgrading the state store is not supported; restore a backup")
