"""On assignment events, queue one message per channel of the owner, in the same transaction.

Which channels: the owner's `notify` ∩ the configured channels, for the events listed in
`[notifications] events`. The outbox key (`lead/<id>/v<n>/notify/<event>/<channel>`) makes a
second enqueue for the same (event, assignment, channel) a no-op: one message, ever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from state import DEFAULT_PORTAL, LeadEventRecord, NotificationPayload, UnitOfWork, notify_key
from sync.ack_links import AckLinks
from sync.config.notifications import Contact, NotificationsConfig
from sync.lifecycle import LeadEvent
from sync.notify.messages import ref_of, render
from sync.subscribers import EventBus

EVENTS = (LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.ESCALATED_FINAL,
          LeadEvent.PASSED_ON, LeadEvent.PAGE_ESCALATED)
ON_CALL_PREFIX = "on_call:"


def rotation_of(event: LeadEventRecord) -> str | None:
    """The on-call rotation behind an assignment: its reason, or (for the final owner at the
    end of a ladder) the rotation the page came from."""
    reason = str(event.detail.get("reason") or "")
    if reason.startswith(ON_CALL_PREFIX):
        return reason.removeprefix(ON_CALL_PREFIX)
    rotation = event.detail.get("rotation")
    return rotation if isinstance(rotation, str) and rotation else None


def contract_event(event: LeadEventRecord) -> str | None:
    """The contract's name of a lead event: assigned | on_call | reassigned | escalated."""
    paged = str(event.detail.get("reason") or "").startswith(ON_CALL_PREFIX)
    if event.event == LeadEvent.ROUTED.value:
        return "on_call" if paged else "assigned"
    if event.event in (LeadEvent.REASSIGNED.value, LeadEvent.PASSED_ON.value):
        return "on_call" if paged else "reassigned"
    if event.event in (LeadEvent.ESCALATED_FINAL.value, LeadEvent.PAGE_ESCALATED.value):
        return "escalated"
    return None


def _due(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class NotifySubscriber:
    """Queues the notifications of one lead event (called inside its transaction)."""

    def __init__(self, config: NotificationsConfig, record_link: Callable[[str], str],
                 links: AckLinks | None = None, portal: str = DEFAULT_PORTAL) -> None:
        self.config = config
        self.record_link = record_link
        self.links = links
        self.portal = portal

    def channels(self, event: LeadEventRecord, contact: Contact) -> list[str]:
        """The owner's `notify`, plus the rotation's `page` for a lead that came through
        on-call (the page, and the final owner at the end of its ladder); configured only."""
        wanted = list(contact.notify)
        rotation = rotation_of(event)
        paging = self.config.paging.get(rotation) if rotation else None
        if paging is not None:
            wanted += [c for c in paging.page if c not in wanted]
        return [c for c in wanted if c in self.config.channels]

    def ack_link(self, event: LeadEventRecord, coordinator: str) -> str | None:
        if self.links is None:
            return None
        return self.links.url(self.portal, event.crm, event.crm_id, event.assignment,
                              coordinator, event.at)

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
        wanted = self.channels(event, contact)
        if not wanted:
            return
        due, link = _due(event.detail.get("sla_due")), self.link(event.crm_id)
        ack = self.ack_link(event, coordinator)
        for channel in wanted:
            ref = ref_of(notify_key(event.crm_id, event.assignment, kind, channel))
            text = render(kind, event.crm_id, event.rule, due, link, contact.timezone, ref,
                          ack)
            payload = NotificationPayload(channel, coordinator, kind, event.crm_id,
                                          event.assignment, event.rule, due, link,
                                          text.subject, text.text)
            uow.outbox.enqueue_notification(event.crm, payload, now=event.at)


def subscribe(bus: EventBus, config: NotificationsConfig, record_link: Callable[[str], str],
              links: AckLinks | None = None, portal: str = DEFAULT_PORTAL) -> None:
    if not config.channels:
        return
    bus.subscribe(NotifySubscriber(config, record_link, links, portal),
                  events=[e.value for e in EVENTS])
