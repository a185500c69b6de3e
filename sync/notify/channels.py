"""What a channel is: `send(message) -> receipt`, and its errors sorted once into three kinds.

- `Retriable`: nothing was delivered (4xx SMTP, 429/5xx HTTP, no connection): try again
  later, not before `retry_after` seconds when the provider said so.
- `Permanent`: it will never work as configured (5xx SMTP, 4xx HTTP): give up, record it.
- `Uncertain`: the request may have been delivered (connection lost after it was sent): look
  it up before sending again where the provider allows it (`already_sent`).

Error texts are made of codes and categories only: they reach logs and the lead's trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered notification to one person on one channel."""

    to: str  # an address, a phone number; "" for a webhook's own channel
    subject: str
    text: str
    ref: str  # short id derived from the outbox key, carried in the text (not PHI)
    mention: str | None = None  # Slack member id to mention


class SendError(Exception):
    """A send that did not (certainly) succeed; the message is PHI-free by construction."""

    phi_safe = True

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Retriable(SendError):
    """Not delivered; try again later."""


class Permanent(SendError):
    """Never going to work as configured; give up."""


class Uncertain(SendError):
    """Maybe delivered; look it up before sending again."""


class Channel(Protocol):
    """A way to reach a coordinator."""

    name: str
    # the provider can be asked what it received (`already_sent`): then each attempt is
    # counted before it is sent, so a worker killed mid-send leaves a trace to look up
    can_look_up: bool

    def send(self, message: Message) -> str:
        """Deliver `message`; the provider's receipt (id or status). Raises `SendError`."""
        ...

    def already_sent(self, message: Message) -> str | None:
        """The receipt of an earlier delivery of `message`, when the provider can tell."""
        ...


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not used by these providers)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
