"""What an outbox row asks the CRM to do, as typed values (stored as JSON in `payload`).

The idempotency key (`lead/<crm-id>/v<assignment>/<kind>`) is built and read back only here
and in the outbox repository: `sync/` hands over a payload and receives `OutboxItem`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from routing.models import frozen_map
from state.tables import OutboxKind


def outbox_key(crm_id: str, assignment: int, kind: OutboxKind | str) -> str:
    """The idempotency key convention: `lead/<crm-id>/v<assignment>/<kind>`."""
    return f"lead/{crm_id}/v{assignment}/{OutboxKind(kind).value}"


def notify_key(crm_id: str, assignment: int, event: str, channel: str) -> str:
    """A notification's key: `lead/<crm-id>/v<assignment>/notify/<event>/<channel>`, so one
    message per (event, assignment, channel)."""
    return f"lead/{crm_id}/v{assignment}/{OutboxKind.NOTIFY.value}/{event}/{channel}"


def key_assignment(key: str) -> int:
    """The assignment number a key was made for (0 for a key of another shape)."""
    parts = key.split("/")
    if len(parts) in (4, 6) and parts[0] == "lead" and parts[2][1:].isdigit():
        return int(parts[2][1:])
    return 0


@dataclass(frozen=True, slots=True)
class OwnerWritePayload:
    owner_id: str
    coordinator: str
    # owners the write may replace: none (None), a placeholder, or the owner we wrote before
    replaceable: tuple[str | None, ...]
    properties: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]

    kind = OutboxKind.OWNER

    def to_json(self) -> dict[str, Any]:
        return {"owner_id": self.owner_id, "coordinator": self.coordinator,
                "replaceable": list(self.replaceable), "properties": dict(self.properties)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OwnerWritePayload:
        return cls(str(data["owner_id"]), str(data.get("coordinator") or ""),
                   tuple(data.get("replaceable") or [None]),
                   {str(k): str(v) for k, v in dict(data.get("properties") or {}).items()})


@dataclass(frozen=True, slots=True)
class TaskPayload:
    owner_id: str
    subject: str
    due: datetime
    priority: str
    type: str = "CALL"
    coordinator: str | None = None

    kind = OutboxKind.TASK

    def to_json(self) -> dict[str, Any]:
        return {"owner_id": self.owner_id, "subject": self.subject,
                "due": self.due.astimezone(UTC).isoformat(), "priority": self.priority,
                "type": self.type, "coordinator": self.coordinator}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskPayload:
        return cls(str(data["owner_id"]), str(data["subject"]),
                   datetime.fromisoformat(str(data["due"])), str(data["priority"]),
                   str(data.get("type") or "CALL"),
                   str(data["coordinator"]) if data.get("coordinator") else None)


@dataclass(frozen=True, slots=True)
class NotificationPayload:
    """One message to one coordinator on one channel; `text` is rendered when queued (ids,
    rule, deadline and link only: never the lead's details), so every retry sends the same."""

    channel: str  # email | slack | sms
    coordinator: str
    event: str  # assigned | reassigned | escalated | on_call
    crm_id: str
    assignment: int
    rule: str | None
    due: datetime | None
    link: str
    subject: str
    text: str

    kind = OutboxKind.NOTIFY

    @property
    def key(self) -> str:
        return notify_key(self.crm_id, self.assignment, self.event, self.channel)

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "coordinator": self.coordinator, "event": self.event,
                "crm_id": self.crm_id, "assignment": self.assignment, "rule": self.rule,
                "due": self.due.astimezone(UTC).isoformat() if self.due else None,
                "link": self.link, "subject": self.subject, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NotificationPayload:
        due = data.get("due")
        return cls(str(data["channel"]), str(data["coordinator"]), str(data["event"]),
                   str(data["crm_id"]), int(data.get("assignment") or 0),
                   str(data["rule"]) if data.get("rule") else None,
                   datetime.fromisoformat(str(due)) if due else None,
                   str(data.get("link") or ""), str(data.get("subject") or ""),
                   str(data.get("text") or ""))


OutboxPayload = OwnerWritePayload | TaskPayload


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row as a value: the key parsed, the payload readable as its type."""

    id: int
    key: str
    crm: str
    crm_id: str
    kind: str
    assignment: int
    status: str
    attempts: int
    next_attempt_at: datetime
    payload: Mapping[str, Any]
    last_error: str | None = None
    result: str | None = None
    done_at: datetime | None = None

    def owner_write(self) -> OwnerWritePayload:
        return OwnerWritePayload.from_json(self.payload)

    def task(self) -> TaskPayload:
        return TaskPayload.from_json(self.payload)

    def notification(self) -> NotificationPayload:
        return NotificationPayload.from_json(self.payload)
