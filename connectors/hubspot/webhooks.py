"""HubSpot webhooks: signature v3 and the JSON array of events, into inbox events.

Everything here reads text from anyone on the network, before or right after it is
authenticated: every number is checked as bounded ASCII digits before `int()` (which accepts
"²" and "١" through `str.isdigit()`, and refuses more than 4300 digits), and the parser's
whole family of errors becomes a 4xx `WebhookRejected`, never a 500.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hubspot.utils.signature import Signature

from connectors.webhooks import (
    ACTIVITY_HINT,
    MAX_EVENTS_PER_REQUEST,
    InboxEvent,
    WebhookAnswer,
    WebhookBatch,
    WebhookEndpoint,
    WebhookRejected,
    WebhookRequest,
    json_answer,
)

SOURCE = "hubspot"
MAX_SKEW_MS = 5 * 60 * 1000
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
# Events that can bring a new lead: a created contact, and a change of a property that
# decides eligibility (the owner, a configured filter such as `lifecyclestage`), which can
# make a skipped contact a lead. Other property changes (lead status...) are acknowledged
# and dropped: the SLA scan reads them from the CRM anyway.
TRIGGERS = frozenset({"contact.creation"})
PROPERTY_CHANGE = "contact.propertyChange"
# Changes of these properties hint that someone acted on a contact (a call or note logged,
# the lead status moved on): stored as activity hints, they make the SLA scan's check of
# that lead happen now (sync/ingest.py `drain_inbox`) rather than at the next scan. A hint
# for a contact that is not a watched lead costs nothing: it is dropped unread. A lead
# status set to one of the initial ones is no attempt, and is ignored. (An owner change is
# an eligibility property, `watched`: a person's reassignment of a routed lead is seen by
# the SLA scan.)
ACTIVITY_PROPERTIES = frozenset({"notes_last_contacted", "hs_last_sales_activity_timestamp",
                                 "hs_lead_status"})
_NO_ATTEMPT = {"hs_lead_status": frozenset({"NEW", "OPEN", ""})}
# HubSpot sends at most 100 events per webhook request (MAX_EVENTS_PER_REQUEST)
_EPOCH_MS = re.compile(r"[0-9]{1,15}")  # explicit range: ASCII digits only
_RECORD_NUMBER = re.compile(r"[0-9]{1,19}")
MAX_RECORD_NUMBER = 2**63 - 1  # HubSpot object ids are int64
MAX_OCCURRED_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: datetime's last day
# HubSpot signs the URI with these characters decoded (its v3 validation guide)
_URI_DECODES = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
                "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ENCODED = re.compile("|".join(_URI_DECODES), re.IGNORECASE)


def refusal(message: str) -> WebhookAnswer:
    return json_answer({"error": message})


WEBHOOK_ENDPOINT = WebhookEndpoint(SOURCE, ("/webhooks/hubspot",),
                                   disabled="HubSpot webhooks are not configured",
                                   refusal=refusal)


def signed_form(uri: str) -> str:
    return _ENCODED.sub(lambda m: _URI_DECODES[m.group(0).upper()], uri)


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Signature v3, computed by the HubSpot SDK's own helper (over the body as UTF-8 text:
    UnicodeDecodeError for a body that is not UTF-8, which HubSpot never sends)."""
    return str(Signature.get_signature(secret, body.decode("utf-8"), "v3",
                                       signed_form(uri), method, timestamp))


def verify_hubspot(secret: str, method: str, uri: str, body: bytes,
                   signature: str | None, timestamp: str | None, now_ms: int) -> None:
    """Signature v3 with a +-5 minute window; raises WebhookRejected (401)."""
    if not signature or not timestamp:
        raise WebhookRejected(401, "unsigned", "missing X-HubSpot-Signature-v3 or "
                              "X-HubSpot-Request-Timestamp")
    if not _EPOCH_MS.fullmatch(timestamp):
        raise WebhookRejected(401, "bad_timestamp", "X-HubSpot-Request-Timestamp is not "
                              "epoch milliseconds")
    skew = now_ms - int(timestamp)
    if skew > MAX_SKEW_MS:
        raise WebhookRejected(401, "stale", "request timestamp older than 5 minutes")
    if skew < -MAX_SKEW_MS:
        raise WebhookRejected(401, "future", "request timestamp more than 5 minutes ahead")
    try:
        expected = hubspot_signature(secret, method, uri, body, timestamp)
    except UnicodeError:  # not UTF-8: HubSpot cannot have signed it
        raise WebhookRejected(401, "bad_signature", "signature does not match") from None
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookRejected(401, "bad_signature", "signature does not match")


def _ms_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def parse_hubspot(body: bytes, watched: frozenset[str] = frozenset()
                  ) -> tuple[list[InboxEvent], int]:
    """(events worth storing, events ignored); WebhookRejected(400) on a malformed body.

    `watched`: properties whose change is a hint too (they decide eligibility)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and too many digits included
        raise WebhookRejected(400, "bad_json", "body is not JSON") from None
    if not isinstance(data, list):
        raise WebhookRejected(400, "bad_shape", "body must be a JSON array of events")
    if len(data) > MAX_EVENTS_PER_REQUEST:
        raise WebhookRejected(413, "too_many", f"more than {MAX_EVENTS_PER_REQUEST} events "
                              "in one request")
    events: list[InboxEvent] = []
    ignored = 0
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise WebhookRejected(400, "bad_shape", f"event {index} is not an object")
        object_id, kind, occurred = (item.get("objectId"), item.get("subscriptionType"),
                                     item.get("occurredAt"))
        if isinstance(object_id, str) and _RECORD_NUMBER.fullmatch(object_id):
            object_id = int(object_id)
        if (not isinstance(object_id, int) or isinstance(object_id, bool)
                or not 0 < object_id <= MAX_RECORD_NUMBER
                or not isinstance(kind, str) or not kind or len(kind) > 64
                or not isinstance(occurred, int) or isinstance(occurred, bool)
                or not 0 <= occurred <= MAX_OCCURRED_MS):
            raise WebhookRejected(400, "bad_shape", f"event {index} needs objectId, "
                                  "subscriptionType and occurredAt (epoch ms)")
        prop = item.get("propertyName")
        prop_name = prop if isinstance(prop, str) else ""
        stored_as = _stored_as(kind, prop_name, item.get("propertyValue"), watched)
        if stored_as is None:
            ignored += 1
            continue
        # eventId is not guaranteed unique: the key is what the event says happened
        key = f"{SOURCE}:{kind}:{object_id}:{occurred}:{prop_name[:64]}"
        events.append(InboxEvent(SOURCE, key, str(object_id), stored_as,
                                 _ms_to_datetime(occurred), _account(item.get("portalId"))))
    return events, ignored


def _stored_as(kind: str, prop: str, value: object, watched: frozenset[str]) -> str | None:
    """The inbox event type of one webhook event; None: not worth storing."""
    if kind in TRIGGERS:
        return kind
    if kind != PROPERTY_CHANGE:
        return None
    if prop in watched:  # may make a contact eligible: read it like a new one
        return kind
    if prop in ACTIVITY_PROPERTIES:
        no_attempt = _NO_ATTEMPT.get(prop, frozenset())
        return None if isinstance(value, str) and value.upper() in no_attempt else ACTIVITY_HINT
    return None


def _account(portal_id: object) -> str:
    """The event's `portalId` (the Hub ID) as text; "" when absent or not a number."""
    if isinstance(portal_id, int) and not isinstance(portal_id, bool) and portal_id > 0:
        return str(portal_id)
    if isinstance(portal_id, str) and _RECORD_NUMBER.fullmatch(portal_id):
        return portal_id
    return ""


def _now_ms() -> int:
    return int(time.time() * 1000)


class SignedEvents:
    """HubSpot's webhooks, signed with the app's client secret (a `WebhookSource`)."""

    endpoint = WEBHOOK_ENDPOINT
    path = WEBHOOK_ENDPOINT.paths[0]
    client_ca = ""

    def __init__(self, secret: str, watched: frozenset[str],
                 clock_ms: Callable[[], int] = _now_ms, portal_id: str = "") -> None:
        self.secret = secret
        self.watched = watched  # properties whose change can make a contact eligible
        self.clock_ms = clock_ms
        self.portal_id = portal_id  # only this account's events; "" = every event

    def admit(self, request: WebhookRequest) -> None:
        """Nothing to check before the body: the signature covers it."""

    def read(self, request: WebhookRequest, body: bytes) -> WebhookBatch:
        verify_hubspot(self.secret, request.method, request.uri, body,
                       request.headers.get(SIGNATURE_HEADER),
                       request.headers.get(TIMESTAMP_HEADER), self.clock_ms())
        events, ignored = parse_hubspot(body, self.watched)
        if not self.portal_id:
            return WebhookBatch(events, ignored=ignored)
        mine = [event for event in events if event.account == self.portal_id]
        return WebhookBatch(mine, ignored=ignored, foreign=len(events) - len(mine))

    def accepted(self, batch: WebhookBatch, stored: int, duplicates: int) -> WebhookAnswer:
        return json_answer({"stored": stored, "duplicates": duplicates,
                            "ignored": batch.ignored or 0})


def webhook_source(secret_env: str, environ: Mapping[str, str],
                   watched: frozenset[str], portal_id: str = "") -> SignedEvents | None:
    """Webhooks are on when the variable named by `webhook_secret_env` holds the secret;
    with `portal_id`, only that account's events are taken."""
    secret = environ.get(secret_env, "") if secret_env else ""
    return SignedEvents(secret, watched, portal_id=portal_id) if secret else None
