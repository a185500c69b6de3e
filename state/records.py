"""Plain values the repositories hand out: frozen copies, never live ORM rows.

`sync/` reads these and asks a repository to change the store; it never holds a session
object it could change behind the repository's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class LeadRecord:
    portal: str
    crm: str
    crm_id: str
    created_at: datetime
    first_seen_at: datetime
    attributes: Mapping[str, str]
    status: str
    owner: str | None
    crm_owner_id: str | None
    assignment: int
    rule: str | None
    assigned_at: datetime | None
    owner_written_at: datetime | None
    sla_due: datetime | None
    held_until: datetime | None
    contacted_at: datetime | None
    reassignments: int
    excluded: list[str]  # a copy: changing it changes nothing stored
    previous_owner: str | None
    updated_at: datetime
    id: int | None = None
    source: str | None = None
    first_owner_at: datetime | None = None
    first_reason: str | None = None
    after_hours: str | None = None


@dataclass(frozen=True, slots=True)
class WatchedLead:
    """What the SLA scan needs of every lead it watches (a few columns, not the lead)."""

    crm_id: str
    status: str
    assignment: int
    crm_owner_id: str | None
    assigned_at: datetime | None
    sla_due: datetime | None
    contacted_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int | None
    crm: str
    crm_id: str
    at: datetime
    kind: str
    coordinator: str | None
    rule: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LeadEventRecord:
    """One stored lead event (see `sync/lifecycle.py` for what each one means)."""

    id: int | None
    portal: str
    crm: str
    crm_id: str
    assignment: int
    event: str
    from_status: str | None
    to_status: str
    coordinator: str | None
    rule: str | None
    at: datetime
    audit_id: int | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboxHint:
    """An unprocessed webhook event: which record may have changed."""

    id: int
    source: str  # the CRM kind that sent it
    dedupe_key: str
    crm_id: str
    event_type: str
    occurred_at: datetime | None
