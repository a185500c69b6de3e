"""Schema version 4: live availability.

`availability` holds the coordinators marked away, one row per coordinator and source:
"cli" (`leadrouter away`, optionally until a time) and "crm" (the CRM's own availability
status, refreshed by the availability step). Nothing to fill: an upgraded store starts with
everyone available.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "availability",
        sa.Column("portal", sa.String(64), nullable=False, server_default="default"),
        sa.Column("coordinator", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("portal", "coordinator", "source"),
    )


def downgrade() -> None:
    raise NotImplementedError("downgrading the state store is not supported; restore a backup")
