"""The webhook side of the connector port: what a plugin declares and answers, CRM-neutral.

A connector plugin declares its endpoint (`WebhookEndpoint`, a module-level `WEBHOOK_ENDPOINT`
in the module its entry point names) whether or not webhooks are configured, and a connector
instance hands out a `WebhookSource` when they are (`Connector.webhook_source`). The service
does the HTTP: allow-list, body cap, rate budget, persistence, metrics and log lines; the
source verifies and parses one request into `InboxEvent`s and writes the answers.

Only what the pipeline needs is kept: the record id, the event type, when it happened and a
dedupe key. Never a property value, never a raw body (either may carry PHI).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Senders batch at most this many events per request (each connector says whose limit it is):
# more is not a delivery from them
MAX_EVENTS_PER_REQUEST = 100
JSON = "application/json"
XML = "text/xml; charset=utf-8"


class WebhookRejected(Exception):
    """The request is refused with `status`; `outcome` labels the metric."""

    def __init__(self, status: int, outcome: str, message: str, *,
                 headers: dict[str, str] | None = None, count: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.headers = headers  # e.g. Retry-After
        self.count = count  # events concerned, when the refusal is about some of them


# The inbox event type of an activity hint: someone may have acted on a lead (a call or a
# note logged, its lead status moved on). It asks for that lead's contact-attempt check now;
# it never brings a new lead (sync/ingest.py `drain_inbox`).
ACTIVITY_HINT = "contact.activity"


class WebhookSetupError(Exception):
    """Webhooks are configured in a way that cannot be served; the message names the key."""

    phi_safe = True


@dataclass(frozen=True)
class InboxEvent:
    source: str
    dedupe_key: str
    crm_id: str
    event_type: str
    occurred_at: datetime | None
    # the CRM account the event is for (HubSpot's portalId), "" when the CRM does not say:
    # with several portals the service stores it in that portal's inbox
    account: str = ""


@dataclass(frozen=True)
class WebhookAnswer:
    """A response body and its media type; the service sets the status and headers."""

    body: bytes
    media_type: str


def json_answer(content: Any) -> WebhookAnswer:
    """`content` as compact UTF-8 JSON (byte for byte what Starlette's JSONResponse sends)."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))
    return WebhookAnswer(text.encode("utf-8"), JSON)


@dataclass(frozen=True)
class WebhookEndpoint:
    """One plugin's webhook routes, served whether or not its webhooks are configured (when
    they are not, a request is refused 404 -- and counted -- like a path that does not
    exist)."""

    source: str  # the inbox source and the label of its metrics and log lines
    # the paths, the plain one first; a path may end with one `{secret}` segment
    paths: tuple[str, ...]
    disabled: str  # why a request is refused when webhooks are not configured
    refusal: Callable[[str], WebhookAnswer]  # the body of a 4xx/5xx answer (not a 404)
    # the config key of a client-certificate CA file, named when the TLS files cannot be used
    client_ca_setting: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    """What a source may read of one request (never the raw path: it can carry a secret)."""

    method: str
    # as the sender signed it: the configured public base + path + query, else the request's
    # own URL (scheme and Host as received)
    uri: str
    headers: Mapping[str, str]  # case-insensitive lookups
    path_secret: str | None  # the `{secret}` segment; None on the plain path
    client_cert: bool  # the TLS client presented a certificate that verified


@dataclass(frozen=True)
class WebhookBatch:
    """One request's events worth storing, and what was left out."""

    events: Sequence[InboxEvent]
    ignored: int | None = None  # valid but of no interest; None: the source never ignores
    invalid: int = 0  # dropped for a record id that cannot exist
    foreign: int = 0  # left out: for another CRM account than this source's


class WebhookSource(Protocol):
    """A connector's configured webhooks: checks, then verification and parsing of one
    request. Every failure is a `WebhookRejected` (a 4xx), never another exception: the
    text parsed comes from anyone on the network."""

    @property
    def endpoint(self) -> WebhookEndpoint: ...

    @property
    def path(self) -> str:
        """The path it is served on, as announced (a `{secret}` is never filled in)."""
        ...

    @property
    def client_ca(self) -> str:
        """A CA file the server verifies client certificates against; "" = none asked."""
        ...

    def admit(self, request: WebhookRequest) -> None:
        """Checks made before the body is read (client certificate, path secret)."""
        ...

    def read(self, request: WebhookRequest, body: bytes) -> WebhookBatch:
        """Verify and parse the body."""
        ...

    def accepted(self, batch: WebhookBatch, stored: int, duplicates: int) -> WebhookAnswer:
        """The 200 answer once the batch is stored."""
        ...


__all__ = [
    "JSON",
    "MAX_EVENTS_PER_REQUEST",
    "XML",
    "InboxEvent",
    "WebhookAnswer",
    "WebhookBatch",
    "WebhookEndpoint",
    "WebhookRejected",
    "WebhookRequest",
    "WebhookSetupError",
    "WebhookSource",
    "json_answer",
]
