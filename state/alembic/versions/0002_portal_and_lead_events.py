"""Schema version 2: a portal on every table, and the append-only `lead_events`.

Every table gets `portal` (today's rows become portal "default") and its unique keys and
indexes lead with it. SQLite cannot change a table's keys in place, so each table is copied
into its new shape, the old one dropped and the copy renamed (the same on PostgreSQL, where
the id sequence is then moved past the copied ids). `lead_events` is created and filled from
the audit trail, so `explain` shows the history of leads routed before the upgrade.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

PORTAL = "default"
BATCH = 2000


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _portal() -> sa.Column[Any]:
    return sa.Column("portal", sa.String(64), nullable=False, server_default=PORTAL)


_Shape = tuple[list[Any], list[Any], list[tuple[str, list[str]]]]


# table -> (its columns after version 1, constraints and indexes of version 2)
def _lead() -> _Shape:
    columns = [
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
    ]
    constraints = [sa.PrimaryKeyConstraint("id"),
                   sa.UniqueConstraint("portal", "crm", "crm_id", name="uq_lead_portal_crm_id")]
    indexes = [("ix_lead_portal_status_sla_due", ["portal", "status", "sla_due"]),
               ("ix_lead_portal_status_held_until", ["portal", "status", "held_until"]),
               ("ix_lead_portal_status_owner", ["portal", "status", "owner"]),
               ("ix_lead_portal_created", ["portal", "created_at"])]
    return columns, constraints, indexes


def _audit() -> _Shape:
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=True),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("detail", _json(), nullable=False),
    ]
    return (columns, [sa.PrimaryKeyConstraint("id")],
            [("ix_audit_portal_lead_at", ["portal", "crm", "crm_id", "at"])])


def _pointer() -> _Shape:
    columns = [
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("last_assigned", sa.String(128), nullable=True),
        sa.Column("weights", _json(), nullable=False),
    ]
    return columns, [sa.PrimaryKeyConstraint("portal", "key")], []


def _cursor() -> _Shape:
    columns = [
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(1024), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    ]
    return columns, [sa.PrimaryKeyConstraint("portal", "name")], []


def _outbox() -> _Shape:
    columns = [
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
    ]
    constraints = [sa.PrimaryKeyConstraint("id"),
                   sa.UniqueConstraint("portal", "key", name="uq_outbox_portal_key")]
    indexes = [("ix_outbox_portal_status_next", ["portal", "status", "next_attempt_at"]),
               ("ix_outbox_portal_lead", ["portal", "crm", "crm_id"])]
    return columns, constraints, indexes


def _inbox() -> _Shape:
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", _utc(), nullable=True),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("processed_at", _utc(), nullable=True),
    ]
    constraints = [sa.PrimaryKeyConstraint("id"),
                   sa.UniqueConstraint("portal", "dedupe_key", name="uq_inbox_portal_dedupe_key")]
    return columns, constraints, [("ix_inbox_portal_unprocessed",
                                   ["portal", "processed_at", "id"])]


TABLES = {"lead": _lead, "audit": _audit, "pointer": _pointer, "cursor": _cursor,
          "outbox": _outbox, "inbox": _inbox}


def _reshape(name: str) -> None:
    """Copy `name` into its version-2 shape (portal first in its keys) and swap it in."""
    columns, constraints, indexes = TABLES[name]()
    names = [c.name for c in columns]
    staging = f"{name}__v2"
    op.create_table(staging, _portal(), *columns, *constraints)
    listed = ", ".join(f'"{n}"' for n in names)
    op.execute(f'INSERT INTO "{staging}" (portal, {listed}) '
               f"SELECT '{PORTAL}', {listed} FROM \"{name}\"")
    op.drop_table(name)
    op.rename_table(staging, name)
    for index, cols in indexes:
        op.create_index(index, name, cols)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and "id" in names:
        # the copy kept the ids: the sequence behind `id` must continue after them
        op.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM \"{name}\"), 0) + 1, false)")


# audit kind (version 1) -> lead event, for the trail of leads routed before the upgrade
_EVENT_OF_KIND = {
    "arrived": ("arrived", "seen"), "decision": ("routed", "routed"),
    "held": ("held", "held"), "released": ("released", "seen"),
    "owner_written": ("owner_written", "owner_written"),
    "task_created": ("task_created", "task_created"),
    "contact_attempt": ("contacted", "contacted"), "breach": ("breached", "breached"),
    "escalation": ("reassigned", "routed"), "overridden": ("overridden", "overridden"),
    "skipped": ("skipped", "skipped"), "unroutable": ("unroutable", "unroutable"),
    "set_aside": ("set_aside", "set_aside"), "reevaluated": ("reevaluated", "seen"),
    "retry": ("retried", "seen"), "error": ("write_failed", ""),
}


def _backfill_events(events: sa.Table) -> None:
    bind = op.get_bind()
    audit = sa.table("audit", sa.column("id", sa.Integer()), sa.column("crm", sa.String()),
                     sa.column("crm_id", sa.String()), sa.column("at", _utc()),
                     sa.column("kind", sa.String()), sa.column("coordinator", sa.String()),
                     sa.column("rule", sa.String()), sa.column("detail", _json()))
    last = 0
    while True:
        rows = bind.execute(sa.select(audit).where(audit.c.id > last)
                            .order_by(audit.c.id).limit(BATCH)).mappings().all()
        if not rows:
            return
        batch = []
        for row in rows:
            event, status = _EVENT_OF_KIND.get(str(row["kind"]), ("noted", ""))
            detail = dict(row["detail"] or {})
            if row["kind"] == "escalation" and str(detail.get("reason", "")).startswith(
                    "escalated_final"):
                event, status = "escalated_final", "escalated_final"
            assignment = detail.get("assignment")
            batch.append({
                "portal": PORTAL, "crm": row["crm"], "crm_id": row["crm_id"],
                "assignment": int(assignment) if isinstance(assignment, int) else 0,
                "event": event, "from_status": None, "to_status": status,
                "coordinator": row["coordinator"], "rule": row["rule"], "at": row["at"],
                "audit_id": row["id"], "detail": {"from_audit": True},
            })
        op.bulk_insert(events, batch)
        last = int(rows[-1]["id"])


def upgrade() -> None:
    for name in TABLES:
        _reshape(name)
    events = op.create_table(
        "lead_events",
        sa.Column("id", sa.Integer(), nullable=False),
        _portal(),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("assignment", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=True),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lead_events_portal_lead", "lead_events",
                    ["portal", "crm", "crm_id", "id"])
    op.create_index("ix_lead_events_portal_at", "lead_events", ["portal", "at"])
    op.create_index("ix_lead_events_portal_event_at", "lead_events", ["portal", "event", "at"])
    assert events is not None
    _backfill_events(events)


def downgrade() -> None:
    raise NotImplementedError("downgrading the state store is not supported; restore a backup")
