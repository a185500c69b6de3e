"""HubSpot webhook deliveries: v3-signed JSON-array batches, with delivery faults on demand.

The v3 signature is ``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))``
sent as ``X-HubSpot-Signature-v3`` with ``X-HubSpot-Request-Timestamp`` (epoch ms); ``uri`` is
the full URL the request was sent to. ``hubspot.utils.signature.Signature.is_valid(...,
signature_version="v3")`` accepts what this module produces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import random
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Delivery", "WebhookSender", "contact_creation", "property_change", "sign_v3"]

MAX_BATCH = 100
_event_ids = itertools.count(random.Random().randrange(10**9, 2 * 10**9))
_lock = threading.Lock()


def sign_v3(secret: str, method: str, uri: str, body: str | bytes, timestamp_ms: int | str
            ) -> str:
    """The ``X-HubSpot-Signature-v3`` value for one request."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    source = f"{method}{uri}{text}{timestamp_ms}".encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def _next_event_id() -> int:
    with _lock:
        return next(_event_ids)


def _event(subscription_type: str, object_id: str | int, occurred_at: int | None,
           portal_id: int, app_id: int, event_id: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id if event_id is not None else _next_event_id(),
        "subscriptionId": {"contact.creation": 2101, "contact.propertyChange": 2102}.get(
            subscription_type, 2199),
        "portalId": portal_id,
        "appId": app_id,
        "occurredAt": occurred_at if occurred_at is not None else int(time.time() * 1000),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": int(object_id),
        "changeFlag": extra.pop("changeFlag", "NEW"),
        "changeSource": extra.pop("changeSource", "CRM_UI"),
        **extra,
    }


def contact_creation(object_id: str | int, *, occurred_at: int | None = None,
                     portal_id: int = 62515, app_id: int = 1160452,
                     event_id: int | None = None) -> dict[str, Any]:
    """A ``contact.creation`` event."""
    return _event("contact.creation", object_id, occurred_at, portal_id, app_id, event_id,
                  changeFlag="CREATED", changeSource="FORM")


def property_change(object_id: str | int, property_name: str, property_value: str, *,
                    occurred_at: int | None = None, portal_id: int = 62515,
                    app_id: int = 1160452, event_id: int | None = None,
                    change_source: str = "CRM_UI") -> dict[str, Any]:
    """A ``contact.propertyChange`` event."""
    return _event("contact.propertyChange", object_id, occurred_at, portal_id, app_id,
                  event_id, propertyName=property_name, propertyValue=property_value,
                  changeSource=change_source, changeFlag="NEW")


@dataclass
class Delivery:
    """One POST made to the target (status 0 = connection failed)."""

    events: list[dict[str, Any]]
    body: bytes
    headers: dict[str, str]
    status: int = 0
    response: bytes = b""
    error: str = ""


@dataclass
class WebhookSender:
    """Posts signed event batches to ``url`` (http or https; loopback targets)."""

    url: str
    client_secret: str
    ca_file: str | None = None
    timeout: float = 5.0
    seed: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def send(self, events: Sequence[dict[str, Any]], *, batch_size: int = MAX_BATCH,
             duplicate: bool = False, out_of_order: bool = False,
             bad_signature: bool = False, stale: bool = False,
             timestamp_ms: int | None = None) -> list[Delivery]:
        """Deliver events in batches. ``duplicate`` re-delivers every batch (same eventIds,
        attemptNumber + 1); ``out_of_order`` shuffles events and batches; ``bad_signature``
        signs with a wrong secret; ``stale`` stamps a timestamp 6 minutes old."""
        evs = [dict(e) for e in events]
        if out_of_order:
            self._rng.shuffle(evs)
        batches = [evs[i:i + max(1, min(batch_size, MAX_BATCH))]
                   for i in range(0, len(evs), max(1, min(batch_size, MAX_BATCH)))]
        plan: list[list[dict[str, Any]]] = []
        for b in batches:
            plan.append(b)
            if duplicate:
                plan.append([{**e, "attemptNumber": e.get("attemptNumber", 0) + 1} for e in b])
        if out_of_order:
            self._rng.shuffle(plan)
        return [self.post(b, bad_signature=bad_signature, stale=stale,
                          timestamp_ms=timestamp_ms) for b in plan]

    def signed_request(self, batch: Iterable[dict[str, Any]], *, bad_signature: bool = False,
                       stale: bool = False, timestamp_ms: int | None = None
                       ) -> tuple[bytes, dict[str, str]]:
        """(body, headers) for one batch, signed as HubSpot does."""
        body = json.dumps(list(batch), separators=(",", ":")).encode()
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        if stale:
            ts -= 6 * 60 * 1000
        secret = self.client_secret + ("-wrong" if bad_signature else "")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (leadrouter sandbox)",
            "X-HubSpot-Request-Timestamp": str(ts),
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", self.url, body, ts),
            "X-HubSpot-Signature-Version": "v3",
        }
        return body, headers

    def post(self, batch: list[dict[str, Any]], **sign: Any) -> Delivery:
        """POST one batch; records and returns the delivery (never raises on HTTP or socket
        errors: a failed send or a cut-off answer is recorded as status 0)."""
        body, headers = self.signed_request(batch, **sign)
        d = Delivery(events=batch, body=body, headers=headers)
        parts = urlsplit(self.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.ca_file)
            conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port,
                                               timeout=self.timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                              timeout=self.timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            d.status, d.response = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            # A target killed mid-answer (IncompleteRead...) is a failed delivery, not a crash.
            d.status, d.error = 0, type(exc).__name__
        finally:
            conn.close()
        self.deliveries.append(d)
        return d
