"""On assignment events, queue one message per channel of the owner, in the same transaction.

Which channels: the owner's `notify` ∩ the configured channels, for the events listed in
`[notifications] events`. The outbox key (`lead/<id>/v<n>/notify/<event>/<channel>`) makes a
second enqueue for the same (event, assignment, channel) a no-op: one message, ever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from state import LeadEventRecord, NotificationPayload, UnitOfWork, notify_key
from sync.config.notifications import NotificationsConfig
from sync.lifecycle import LeadEvent
from sync.notify.messages import ref_of, render
from sync.subscribers import EventBus

EVENTS = (LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.ESCALATED_FINAL)
ON_CALL_PREFIX = "on_call:"


def contract_event(event: LeadEventRecord) -> str | None:
    """The contract's name of a lead event: assigned | on_call | reassigned | escalated."""
    if event.event == LeadEvent.ROUTED.value:
        reason = str(event.detail.get("reason") or "")
        return "on_call" if reason.startswith(ON_CALL_PREFIX) else "assigned"
    if event.event == LeadEvent.REASSIGNED.value:
        return "reassigned"
    if event.event == LeadEvent.ESCALATED_FINAL.value:
        return "escalated"
    return None


def _due(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class NotifySubscriber:
    """Queues the notifications of one lead event (called inside its transaction)."""

    def __init__(self, config: NotificationsConfig, record_link: Callable[[str], str]) -> None:
        self.config = config
        self.record_link = record_link

    def link(self, crm_id: str) -> str:
        if self.config.record_url:
            return self.config.record_url.replace("{crm_id}", crm_id)
        return self.record_link(crm_id)

    def __call__(self, uow: UnitOfWork, event: LeadEventRecord) -> None:
        kind, coordinator = contract_event(event), event.coordinator
        contact = self.config.contacts.get(coordinator or "")
        if kind is None or kind not in self.config.events or contact is None:
            return
        assert coordinator is not None  # a contact was found by it
        wanted = [c for c in contact.notify if c in self.config.channels]
        if not wanted:
            return
        due, link = _due(event.detail.get("sla_due")), self.link(event.crm_id)
        for channel in wanted:
            ref = ref_of(notify_key(event.crm_id, event.assignment, kind, channel))
            text = render(kind, event.crm_id, event.rule, due, link, contact.timezone, ref)
            payload = NotificationPayload(channel, coordinator, kind, event.crm_id,
                                          event.assignment, event.rule, due, link,
                                          text.subject, text.text)
            uow.outbox.enqueue_notification(event.crm, payload, now=event.at)


def subscribe(bus: EventBus, config: NotificationsConfig,
              record_link: Callable[[str], str]) -> None:
    if not config.channels:
        return
    bus.subscribe(NotifySubscriber(config, record_link), events=[e.value for e in EVENTS])
