"""Webhook payloads -> inbox events: HubSpot (signature v3, JSON) and Salesforce Outbound
Messages (SOAP). Pure functions plus one store call; the HTTP layer lives in `app.py`.

Only what the pipeline needs is kept: the record id, the event type, when it happened and a
dedupe key. Never a `propertyValue`, never a raw body (either may carry PHI).

Everything here reads text from anyone on the network, before (or, for HubSpot, right after)
it is authenticated: every number is checked as bounded ASCII digits before `int()` (which
accepts "²" and "١" through `str.isdigit()`, and refuses more than 4300 digits), and each
parser's whole family of errors becomes a 4xx `WebhookRejected`, never a 500.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
from hubspot.utils.signature import Signature

from connectors.salesforce.ids import normalize_id
from state import Store, StoreUnavailable

MAX_SKEW_MS = 5 * 60 * 1000
LOCK_RETRY = 0.002  # seconds between tries while the worker holds the write lock
# Events that can bring a new lead: a created contact, and a change of a property that
# decides eligibility (the owner, a configured filter such as `lifecyclestage`), which can
# make a skipped contact a lead. Other property changes (lead status...) are acknowledged
# and dropped: the SLA scan reads them from the CRM anyway.
HUBSPOT_TRIGGERS = frozenset({"contact.creation"})
HUBSPOT_PROPERTY_CHANGE = "contact.propertyChange"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# Both CRMs send at most 100 events / notifications per request (HubSpot's webhook batches,
# Salesforce's Outbound Messages): more is not a delivery from them
MAX_EVENTS_PER_REQUEST = 100
_EPOCH_MS = re.compile(r"[0-9]{1,15}")  # explicit range: ASCII digits only
_RECORD_NUMBER = re.compile(r"[0-9]{1,19}")
_SOBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
MAX_RECORD_NUMBER = 2**63 - 1  # HubSpot object ids are int64
MAX_OCCURRED_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: datetime's last day
# Every way parsing an untrusted XML body fails: ParseError is a SyntaxError; an unknown
# `encoding=` declaration is a LookupError; bad bytes are ValueError (UnicodeError)
_XML_ERRORS = (SyntaxError, ValueError, LookupError, RecursionError, DefusedXmlException)


class WebhookRejected(Exception):
    """The request is refused with `status`; `outcome` labels the metric."""

    def __init__(self, status: int, outcome: str, message: str, *,
                 headers: dict[str, str] | None = None, count: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.headers = headers  # e.g. Retry-After
        self.count = count  # events concerned, when the refusal is about some of them


@dataclass(frozen=True)
class InboxEvent:
    source: str
    dedupe_key: str
    crm_id: str
    event_type: str
    occurred_at: datetime | None


# -- HubSpot --------------------------------------------------------------------------------
# HubSpot signs the URI with these characters decoded (its v3 validation guide)
_URI_DECODES = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
                "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ENCODED = re.compile("|".join(_URI_DECODES), re.IGNORECASE)


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
        if kind not in HUBSPOT_TRIGGERS and not (kind == HUBSPOT_PROPERTY_CHANGE
                                                 and prop_name in watched):
            ignored += 1
            continue
        # eventId is not guaranteed unique: the key is what the event says happened
        key = f"hubspot:{kind}:{object_id}:{occurred}:{prop_name[:64]}"
        events.append(InboxEvent("hubspot", key, str(object_id), kind,
                                 _ms_to_datetime(occurred)))
    return events, ignored


# -- Salesforce ----------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: Element, name: str) -> Element | None:
    for child in node:
        if _local(child.tag) == name:
            return child
    return None


def parse_outbound(body: bytes, organization_id: str) -> tuple[list[InboxEvent], int]:
    """Outbound Message -> (one event per Notification with a valid record id, how many
    notifications were dropped for an invalid id).

    An id that fails Salesforce's checksum is dropped (counted), never stored: it cannot
    name a record, and one such id would fail the whole fetch. 400 for anything that is not
    a well-formed Outbound Message (or one whose every id is invalid), 403 for another org,
    413 for more than 100 notifications.
    """
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except _XML_ERRORS:
        raise WebhookRejected(400, "bad_xml", "body is not acceptable XML") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise WebhookRejected(400, "bad_shape", "not an Outbound Message")
    org_node = _child(notifications, "OrganizationId")
    org = (org_node.text or "").strip() if org_node is not None else ""
    if not org or org[:15] != organization_id[:15]:
        raise WebhookRejected(403, "wrong_org", "OrganizationId does not match "
                              "[crm.salesforce] organization_id")
    notes = [note for note in notifications if _local(note.tag) == "Notification"]
    if len(notes) > MAX_EVENTS_PER_REQUEST:
        raise WebhookRejected(413, "too_many", f"more than {MAX_EVENTS_PER_REQUEST} "
                              "notifications in one message")
    events: list[InboxEvent] = []
    invalid = 0
    for note in notes:
        note_id = _child(note, "Id")
        sobject = _child(note, "sObject")
        record_id = _child(sobject, "Id") if sobject is not None else None
        if note_id is None or record_id is None:
            raise WebhookRejected(400, "bad_shape", "a Notification lacks its Id or sObject Id")
        nid, rid = normalize_id(note_id.text or ""), normalize_id(record_id.text or "")
        if nid is None or rid is None:
            invalid += 1
            continue
        sobject_type = ""
        if sobject is not None:
            for name, value in sobject.attrib.items():
                if _local(name) == "type":
                    sobject_type = value.rsplit(":", 1)[-1]
        if not _SOBJECT_NAME.fullmatch(sobject_type):  # stored: a name, never free text
            sobject_type = ""
        events.append(InboxEvent("salesforce", f"salesforce:{org[:15]}:{nid}:{rid}", rid,
                                 f"outbound:{sobject_type or 'sObject'}", None))
    if not events and invalid:
        raise WebhookRejected(400, "bad_id", "no Notification names a valid record id",
                              count=invalid)
    if not events:
        raise WebhookRejected(400, "bad_shape", "an Outbound Message without Notifications")
    return events, invalid


def ack_envelope() -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"{SOAP_NS}"><soapenv:Body><notificationsResponse xmlns="{OUTBOUND_NS}">'
            "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
            ).encode()


def soap_fault(message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"{SOAP_NS}"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>'
            f"<faultstring>{message}</faultstring></soapenv:Fault></soapenv:Body>"
            "</soapenv:Envelope>").encode()


# -- persistence ---------------------------------------------------------------------------
def persist(store: Store, events: Sequence[InboxEvent], now: datetime, *,
            lock_wait: float = 5.0) -> tuple[int, int]:
    """All events in one transaction; (new, duplicates).

    A store whose connections do not wait for locks themselves (see
    `sync.service.runner.webhook_store`) raises at once while the worker writes; the
    transaction is then retried every few milliseconds, so the answer waits no longer
    than the worker's transaction does (SQLite's own busy handler sleeps in growing steps
    of up to 100 ms).
    """
    if not events:
        return 0, 0
    deadline = time.monotonic() + lock_wait
    while True:
        try:
            new = 0
            with store.unit_of_work() as uow:
                for event in events:
                    new += int(uow.inbox.add(event.source, event.dedupe_key, event.crm_id,
                                             event.event_type, event.occurred_at,
                                             received_at=now))
                uow.commit()
            return new, len(events) - new
        except StoreUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_RETRY)
