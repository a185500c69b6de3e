"""Subscribers to lead events: what later features hang on the lifecycle.

A subscriber is called with the unit of work and the stored event *inside* the transaction
that made the change, so what it does (enqueue a notification in the outbox, count a figure)
commits or rolls back with the change itself. It must be quick and must not call a CRM or
any other network service: queue the work, let the outbox perform it. A subscriber that
raises fails the change (and the lead is set aside by its step), so it should not raise for
anything but a broken store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from state import LeadEventRecord, UnitOfWork

Subscriber = Callable[[UnitOfWork, LeadEventRecord], None]


@dataclass
class EventBus:
    _subscribers: list[tuple[frozenset[str] | None, Subscriber]] = field(default_factory=list)

    def subscribe(self, handler: Subscriber, *, events: Iterable[str] | None = None) -> None:
        """Call `handler` for every event, or only for the event names in `events`."""
        wanted = None if events is None else frozenset(str(e) for e in events)
        self._subscribers.append((wanted, handler))

    def publish_many(self, uow: UnitOfWork, events: Sequence[LeadEventRecord]) -> None:
        """Hand each subscriber the events it wants, in order: all at once to one that has a
        `many(uow, events)` method (it writes them in a few statements), else one by one."""
        for wanted, handler in self._subscribers:
            mine = [e for e in events if wanted is None or e.event in wanted]
            if not mine:
                continue
            many = getattr(handler, "many", None)
            if callable(many):
                many(uow, mine)
            else:
                for event in mine:
                    handler(uow, event)
