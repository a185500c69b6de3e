"""Salesforce Outbound Messages (SOAP) into inbox events, and the answers Salesforce expects.

The body comes from anyone on the network, unauthenticated but for the optional client
certificate and secret path segment: each way parsing it fails becomes a 4xx
`WebhookRejected`, never a 500; a record id is kept only once it passes Salesforce's checksum,
and an sObject type only when it is a plain name (never free text).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from connectors.salesforce.ids import normalize_id
from connectors.webhooks import (
    MAX_EVENTS_PER_REQUEST,
    XML,
    InboxEvent,
    WebhookAnswer,
    WebhookBatch,
    WebhookEndpoint,
    WebhookRejected,
    WebhookRequest,
    WebhookSetupError,
)

SOURCE = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# Salesforce sends at most 100 notifications per Outbound Message (MAX_EVENTS_PER_REQUEST)
_SOBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
# Every way parsing an untrusted XML body fails: ParseError is a SyntaxError; an unknown
# `encoding=` declaration is a LookupError; bad bytes are ValueError (UnicodeError)
_XML_ERRORS = (SyntaxError, ValueError, LookupError, RecursionError, DefusedXmlException)
MIN_PATH_SECRET = 16
_PATH_SECRET = re.compile(r"[A-Za-z0-9._~-]+")  # unreserved URL characters: no escaping


def soap_fault(message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"{SOAP_NS}"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>'
            f"<faultstring>{message}</faultstring></soapenv:Fault></soapenv:Body>"
            "</soapenv:Envelope>").encode()


def ack_envelope() -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"{SOAP_NS}"><soapenv:Body><notificationsResponse xmlns="{OUTBOUND_NS}">'
            "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
            ).encode()


def refusal(message: str) -> WebhookAnswer:
    """A SOAP fault: without an Ack, Salesforce delivers the message again later."""
    return WebhookAnswer(soap_fault(message), XML)


WEBHOOK_ENDPOINT = WebhookEndpoint(
    SOURCE, ("/webhooks/salesforce", "/webhooks/salesforce/{secret}"),
    disabled="Salesforce Outbound Messages are not configured", refusal=refusal,
    client_ca_setting="[crm.salesforce] outbound_client_ca")


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
        events.append(InboxEvent(SOURCE, f"{SOURCE}:{org[:15]}:{nid}:{rid}", rid,
                                 f"outbound:{sobject_type or 'sObject'}", None))
    if not events and invalid:
        raise WebhookRejected(400, "bad_id", "no Notification names a valid record id",
                              count=invalid)
    if not events:
        raise WebhookRejected(400, "bad_shape", "an Outbound Message without Notifications")
    return events, invalid


class OutboundMessages:
    """Outbound Messages of one org (a `WebhookSource`)."""

    endpoint = WEBHOOK_ENDPOINT

    def __init__(self, organization_id: str, *, path_secret: str = "",
                 client_ca: str = "") -> None:
        self.organization_id = organization_id
        self.path_secret = path_secret  # "" = the plain path
        self.client_ca = client_ca  # "" = no client certificate required

    @property
    def path(self) -> str:
        plain, secret = WEBHOOK_ENDPOINT.paths
        return secret if self.path_secret else plain

    def admit(self, request: WebhookRequest) -> None:
        if self.client_ca and not request.client_cert:
            raise WebhookRejected(403, "no_client_cert", "a client certificate from the "
                                  "configured CA is required")
        self._check_path_secret(request.path_secret)

    def _check_path_secret(self, given: str | None) -> None:
        """With a path secret configured, only `/webhooks/salesforce/{secret}` is served
        (the plain path answers 404); without one, only the plain path."""
        expected = self.path_secret
        if not expected and given is None:
            return
        if expected and given is not None and hmac.compare_digest(
                given.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
            return
        raise WebhookRejected(404, "bad_path", "no such endpoint")

    def read(self, request: WebhookRequest, body: bytes) -> WebhookBatch:
        events, invalid = parse_outbound(body, self.organization_id)
        return WebhookBatch(events, invalid=invalid)

    def accepted(self, batch: WebhookBatch, stored: int, duplicates: int) -> WebhookAnswer:
        return WebhookAnswer(ack_envelope(), XML)


def path_secret(env_name: str, environ: Mapping[str, str]) -> str:
    """The secret path segment; a configured variable that is unset or weak stops the start
    (failing open would serve the plain, guessable path)."""
    if not env_name:
        return ""
    secret = environ.get(env_name, "")
    if len(secret) < MIN_PATH_SECRET or not _PATH_SECRET.fullmatch(secret):
        raise WebhookSetupError(
            f"[crm.salesforce] outbound_path_secret_env: the variable {env_name} must hold "
            f"at least {MIN_PATH_SECRET} characters of A-Z a-z 0-9 . _ ~ - (it is "
            f"{'not set' if not secret else 'too short or has other characters'})")
    return secret


def webhook_source(organization_id: str, path_secret_env: str, client_ca: str,
                   environ: Mapping[str, str], *, terminates_tls: bool
                   ) -> OutboundMessages | None:
    """Outbound Messages are on when `organization_id` is set. WebhookSetupError when a
    client CA is configured but the service does not terminate TLS, or the path secret is
    unset or weak."""
    if not organization_id:
        return None
    if client_ca and not terminates_tls:
        raise WebhookSetupError(
            "[crm.salesforce] outbound_client_ca needs [service] tls_cert and tls_key: "
            "leadrouter sees client certificates only when it terminates TLS itself "
            "(behind a TLS proxy, have the proxy verify them instead)")
    return OutboundMessages(organization_id, path_secret=path_secret(path_secret_env, environ),
                            client_ca=client_ca)
