"""Schema version 6: an outbox index in claim order.

A claim takes the oldest due rows of one kind (`ORDER BY id`). With only the
(portal, status, next_attempt_at) index the database sorts every due row of the portal on
each claim, which grows with a backlog of pending writes; (portal, status, kind, id) hands
them over in order, so a claim reads about a batch of rows whatever the backlog.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_portal_status_kind_id", "outbox",
                    ["portal", "status", "kind", "id"])


def downgrade() -> None:
    raise NotImplementedError("downgrading the state store is not supported; restore a backup")
