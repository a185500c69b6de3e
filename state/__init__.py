"""The state store: leads (ids and routing attributes only), audit, round-robin pointers,
cursors, outbox and inbox, on SQLite (WAL) or PostgreSQL.

    store = open_store(config.service.state_url)
    with store.unit_of_work() as uow:
        ...
        uow.commit()
"""

from state.db import Store, open_store
from state.errors import StoreError, StoreUnavailable
from state.migrations import SCHEMA_VERSION
from state.repos.audit import steps_detail
from state.repos.outbox import outbox_key
from state.tables import (
    OPEN_STATUSES,
    SLA_RUNNING_STATUSES,
    TERMINAL_STATUSES,
    AuditKind,
    AuditRow,
    Crm,
    CursorRow,
    InboxRow,
    LeadRow,
    LeadStatus,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    PointerRow,
)
from state.uow import UnitOfWork

__all__ = [
    "OPEN_STATUSES",
    "SCHEMA_VERSION",
    "SLA_RUNNING_STATUSES",
    "TERMINAL_STATUSES",
    "AuditKind",
    "AuditRow",
    "Crm",
    "CursorRow",
    "InboxRow",
    "LeadRow",
    "LeadStatus",
    "OutboxKind",
    "OutboxRow",
    "OutboxStatus",
    "PointerRow",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnitOfWork",
    "open_store",
    "outbox_key",
    "steps_detail",
]
