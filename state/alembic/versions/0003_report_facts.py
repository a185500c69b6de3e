"""Schema version 3: what the report measures, kept as the lifecycle goes.

The lead gets `source`, `first_owner_at`, `first_reason` and `after_hours`; `passed_over`
records the coordinators each routing decision skipped and why; the new `assignment` table
holds one row per assignment (its coordinator, rule, deadline, owner
write, contact attempt and outcome), kept by a subscriber to lead events. Leads of an
upgraded store are filled in from what version 2 kept: the source from the attributes, the
first owner write from the lead's owner write time, and one assignment row for the lead's
current assignment (earlier assignments of a reassigned lead were not kept by version 2).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 2000


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _fill(assignment: sa.Table) -> None:
    """Version-2 leads: source, first owner write and their current assignment."""
    bind = op.get_bind()
    times = ("created_at", "assigned_at", "sla_due", "owner_written_at", "contacted_at")
    lead = sa.table("lead", *(sa.column(n) for n in (
        "id", "portal", "crm", "crm_id", "status", "owner", "rule", "assignment")),
        sa.column("source"), sa.column("first_owner_at", _utc()),
        sa.column("attributes", sa.JSON()), *(sa.column(n, _utc()) for n in times))
    last = 0
    while True:
        rows = bind.execute(sa.select(lead).where(lead.c.id > last).order_by(lead.c.id)
                            .limit(BATCH)).mappings().all()
        if not rows:
            return
        made: list[dict[str, Any]] = []
        for row in rows:
            attributes = row["attributes"] or {}
            source = attributes.get("source") if isinstance(attributes, dict) else None
            bind.execute(sa.update(lead).where(lead.c.id == row["id"]).values(
                {"source": str(source)[:64] if source else None,
                 "first_owner_at": row["owner_written_at"]}))
            if row["owner"] and row["assignment"] and row["assigned_at"]:
                attempt = row["contacted_at"]
                due = row["sla_due"]
                outcome = None
                if row["status"] == "overridden" and attempt is None:
                    outcome = "overridden"
                elif attempt is not None:
                    outcome = "met" if due is None or attempt <= due else "breached"
                elif row["status"] == "breached":
                    outcome = "breached"
                made.append({"portal": row["portal"], "crm": row["crm"],
                             "crm_id": row["crm_id"], "number": row["assignment"],
                             "lead_created_at": row["created_at"],
                             "kind": "routed", "coordinator": row["owner"],
                             "rule": row["rule"], "reason": None,
                             "assigned_at": row["assigned_at"], "sla_due": due,
                             "owner_written_at": row["owner_written_at"],
                             "attempt_at": attempt, "outcome": outcome})
        if made:
            op.bulk_insert(assignment, made)
        last = int(rows[-1]["id"])


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("source", sa.String(64), nullable=True))
        batch.add_column(sa.Column("first_owner_at", _utc(), nullable=True))
        batch.add_column(sa.Column("first_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("after_hours", sa.String(16), nullable=True))
    assignment = op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal", sa.String(64), nullable=False, server_default="default"),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("lead_created_at", _utc(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("assigned_at", _utc(), nullable=False),
        sa.Column("sla_due", _utc(), nullable=True),
        sa.Column("owner_written_at", _utc(), nullable=True),
        sa.Column("attempt_at", _utc(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("portal", "crm", "crm_id", "number",
                            name="uq_assignment_lead_number"),
    )
    op.create_index("ix_assignment_portal_coordinator", "assignment", ["portal", "coordinator"])
    op.create_index("ix_assignment_report", "assignment",
                    ["portal", "lead_created_at", "coordinator", "rule", "kind", "outcome",
                     "sla_due", "attempt_at", "assigned_at", "owner_written_at"])
    op.create_table(
        "passed_over",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal", sa.String(64), nullable=False, server_default="default"),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("lead_created_at", _utc(), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_passed_over_report", "passed_over",
                    ["portal", "lead_created_at", "coordinator", "reason"])
    # covers the report's scans of a window (no row lookups)
    op.create_index("ix_lead_report", "lead", ["portal", "created_at", "status",
                                               "first_owner_at", "contacted_at",
                                               "after_hours", "first_reason", "source"])
    assert assignment is not None
    _fill(assignment)


def downgrade() -> None:
    raise NotImplementedError("downgrading the state store is not supported; restore a backup")
