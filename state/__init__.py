"""The state store: leads (ids and routing attributes only), audit, round-robin pointers,
cursors, outbox and inbox, on SQLite (WAL) or PostgreSQL.

    store = open_store(config.service.state_url)
    with store.unit_of_work() as uow:
        ...
        uow.commit()
"""

from state.db import AVAILABILITY_LOCK, INTAKE_LOCK, POLL_LOCK, SLA_LOCK, Store, open_store
from state.errors import StoreError, StoreUnavailable
from state.migrations import SCHEMA_VERSION
from state.outbox_payloads import (
    NotificationPayload,
    OutboxItem,
    OwnerWritePayload,
    TaskPayload,
    notify_key,
    outbox_key,
)
from state.records import AuditEntry, InboxHint, LeadEventRecord, LeadRecord, WatchedLead
from state.repos.audit import steps_detail
from state.tables import (
    DEFAULT_PORTAL,
    OPEN_STATUSES,
    SLA_RUNNING_STATUSES,
    TERMINAL_STATUSES,
    AuditKind,
    AuditRow,
    CursorRow,
    InboxRow,
    LeadEventRow,
    LeadRow,
    LeadStatus,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    PointerRow,
)
from state.uow import UnitOfWork

__all__ = [
    "AVAILABILITY_LOCK",
    "DEFAULT_PORTAL",
    "INTAKE_LOCK",
    "OPEN_STATUSES",
    "POLL_LOCK",
    "SCHEMA_VERSION",
    "SLA_LOCK",
    "SLA_RUNNING_STATUSES",
    "TERMINAL_STATUSES",
    "AuditEntry",
    "AuditKind",
    "AuditRow",
    "CursorRow",
    "InboxHint",
    "InboxRow",
    "LeadEventRecord",
    "LeadEventRow",
    "LeadRecord",
    "LeadRow",
    "LeadStatus",
    "NotificationPayload",
    "OutboxItem",
    "OutboxKind",
    "OutboxRow",
    "OutboxStatus",
    "OwnerWritePayload",
    "PointerRow",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TaskPayload",
    "UnitOfWork",
    "WatchedLead",
    "notify_key",
    "open_store",
    "outbox_key",
    "steps_detail",
]
