"""Outbound Message sender: the SOAP notifications a workflow/flow action posts to a listener.

Message shape (as Salesforce sends it)::

    <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ...>
     <soapenv:Body>
      <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
       <OrganizationId>00D...</OrganizationId> <ActionId>04k...</ActionId>
       <SessionId xsi:nil="true"/> <EnterpriseUrl>...</EnterpriseUrl> <PartnerUrl>...</PartnerUrl>
       <Notification><Id>04l...</Id>
        <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
         <sf:Id>00Q...</sf:Id> <sf:OwnerId>00G...</sf:OwnerId> ...
        </sObject></Notification>            (up to 100 per message)
      </notifications>
     </soapenv:Body>
    </soapenv:Envelope>

The listener answers ``<Ack>true</Ack>`` inside ``notificationsResponse``; anything else counts
as a failed delivery (Salesforce would retry it later, at least once, possibly out of order).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET
import requests

from sandbox.salesforce.schema import make_id
from sandbox.salesforce.store import Store

__all__ = [
    "MAX_NOTIFICATIONS",
    "OUTBOUND_NS",
    "Delivery",
    "OutboundDispatcher",
    "OutboundRule",
    "OutboundSender",
    "ack_response",
    "parse_message",
]

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
DEFAULT_FIELDS = ("Id", "OwnerId", "CreatedDate", "LastModifiedDate")


def ack_response(ack: bool = True) -> str:
    """What a listener answers (handy for tests and for the product's own endpoint)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}">'
            f'<soapenv:Body><notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>'
            f"{'true' if ack else 'false'}</Ack></notificationsResponse></soapenv:Body>"
            "</soapenv:Envelope>")


@dataclass(frozen=True)
class Delivery:
    """One POST of one message: HTTP status (0 = connection failed) and whether it was acked."""

    status: int
    acked: bool
    notification_ids: tuple[str, ...]
    record_ids: tuple[str, ...]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(str(v))


class OutboundSender:
    """Builds and posts Outbound Messages for records of one store."""

    def __init__(self, store: Store, instance_url: str, api_version: str = "59.0") -> None:
        self.store = store
        self.instance_url = instance_url
        self.api_version = api_version
        self.action_id = make_id("04k", 1)
        self._seq = itertools.count(1)
        self.deliveries: list[Delivery] = []

    def build(self, notifications: Sequence[tuple[str, str, dict[str, Any]]],
              action_id: str | None = None) -> bytes:
        """One SOAP message from ``(notification id, sObject type, fields)`` triples."""
        if not 1 <= len(notifications) <= MAX_NOTIFICATIONS:
            raise ValueError(f"an outbound message carries 1..{MAX_NOTIFICATIONS} notifications")
        org = self.store.organization_id
        base = self.instance_url.rstrip("/")
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            "<soapenv:Body>",
            f'<notifications xmlns="{OUTBOUND_NS}">',
            f"<OrganizationId>{org}</OrganizationId>",
            f"<ActionId>{action_id or self.action_id}</ActionId>",
            '<SessionId xsi:nil="true"/>',
            f"<EnterpriseUrl>{base}/services/Soap/c/{self.api_version}/{org}</EnterpriseUrl>",
            f"<PartnerUrl>{base}/services/Soap/u/{self.api_version}/{org}</PartnerUrl>",
        ]
        for nid, sobject, fields in notifications:
            parts.append(f"<Notification><Id>{nid}</Id>")
            parts.append(f'<sObject xsi:type="sf:{sobject}" '
                         'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">')
            for name, v in fields.items():
                if v is not None:  # null fields are left out of the message
                    parts.append(f"<sf:{name}>{_value(v)}</sf:{name}>")
            parts.append("</sObject></Notification>")
        parts += ["</notifications>", "</soapenv:Body>", "</soapenv:Envelope>"]
        return "".join(parts).encode("utf-8")

    def new_notification_id(self) -> str:
        return make_id("04l", next(self._seq))

    def notifications_for(self, record_ids: Sequence[str],
                          fields: Sequence[str] = DEFAULT_FIELDS,
                          notification_ids: Sequence[str] | None = None
                          ) -> list[tuple[str, str, dict[str, Any]]]:
        """Notification triples with the records' current values (new ids unless given)."""
        out = []
        with self.store.lock:
            for i, rid in enumerate(record_ids):
                found = self.store.find(rid)
                if found is None:
                    raise KeyError(f"no record {rid}")
                sobject, rec = found
                values = {"Id": rec["Id"], **{f: rec.get(f) for f in fields if f != "Id"}}
                nid = notification_ids[i] if notification_ids else self.new_notification_id()
                out.append((nid, sobject, values))
        return out

    def send(self, url: str, record_ids: Sequence[str], *,
             fields: Sequence[str] = DEFAULT_FIELDS, duplicates: int = 0,
             shuffle_seed: int | None = None, verify: bool | str = True,
             timeout: float = 10.0,
             notification_ids: Sequence[str] | None = None) -> list[Delivery]:
        """Post notifications for ``record_ids`` (split into messages of <= 100).

        ``duplicates`` re-posts every message that many extra times with the same
        notification ids (at-least-once delivery); ``shuffle_seed`` shuffles the order of the
        messages, duplicates included (out-of-order delivery). ``notification_ids`` (one per
        record) re-send earlier notifications under their ids, as Salesforce's retries do.
        """
        notes = self.notifications_for(record_ids, fields, notification_ids)
        chunks = [notes[i:i + MAX_NOTIFICATIONS] for i in range(0, len(notes), MAX_NOTIFICATIONS)]
        plan = [c for c in chunks for _ in range(1 + max(duplicates, 0))]
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(plan)
        out: list[Delivery] = []
        with requests.Session() as session:
            session.trust_env = False  # ignore REQUESTS_CA_BUNDLE / proxies: loopback only
            session.verify = verify
            for chunk in plan:
                body = self.build(chunk)
                nids = tuple(n[0] for n in chunk)
                rids = tuple(str(n[2]["Id"]) for n in chunk)
                try:
                    resp = session.post(url, data=body, timeout=timeout, headers={
                        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
                    delivery = Delivery(resp.status_code,
                                        resp.ok and _acked(resp.content), nids, rids)
                except requests.RequestException:
                    delivery = Delivery(0, False, nids, rids)
                out.append(delivery)
        self.deliveries.extend(out)
        return out


def _acked(body: bytes) -> bool:
    try:
        root = DET.fromstring(body)
    except Exception:
        return False
    ack = root.find(f".//{{{OUTBOUND_NS}}}Ack")
    if ack is None:
        ack = root.find(".//Ack")
    return ack is not None and (ack.text or "").strip().lower() == "true"


def parse_message(body: bytes) -> dict[str, Any]:
    """Decode a message (for tests and tools): org id, action id and notifications."""
    root = DET.fromstring(body)
    ns = {"o": OUTBOUND_NS, "sf": "urn:sobject.enterprise.soap.sforce.com"}
    node = root.find(".//o:notifications", ns)
    if node is None:
        raise ValueError("not an outbound message")
    notes = []
    for n in node.findall("o:Notification", ns):
        obj = n.find("o:sObject", ns)
        fields = {}
        if obj is not None:
            for child in obj:
                fields[child.tag.split("}", 1)[-1]] = child.text
        notes.append({"Id": n.findtext("o:Id", namespaces=ns), "sObject": fields,
                      "type": obj.get(f"{{{XSI_NS}}}type", "") if obj is not None else ""})
    return {"OrganizationId": node.findtext("o:OrganizationId", namespaces=ns),
            "ActionId": node.findtext("o:ActionId", namespaces=ns), "notifications": notes}


@dataclass
class OutboundRule:
    """"When a <sobject> is <event>d, send an Outbound Message to <url>" (a workflow action)."""

    url: str
    sobject: str = "Lead"
    events: tuple[str, ...] = ("create",)
    fields: tuple[str, ...] = DEFAULT_FIELDS
    verify: bool | str = True
    duplicates: int = 0  # extra copies of every message (at-least-once delivery)
    retry_interval: float = 1.0  # seconds before a failed delivery is tried again
    max_attempts: int = 5


@dataclass
class _Pending:
    rule: OutboundRule
    record_id: str
    notification_id: str
    attempt: int = 1
    due: float = 0.0


class OutboundDispatcher:
    """Queues notifications from committed saves and posts them from a background thread,
    batching up to 100 per message and retrying unacknowledged deliveries."""

    def __init__(self, sender: OutboundSender, *, poll: float = 0.02) -> None:
        self.sender = sender
        self.rules: list[OutboundRule] = []
        self.poll = poll
        self._pending: list[_Pending] = []
        self._busy = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures: list[Delivery] = []  # deliveries that gave up after max_attempts

    def add_rule(self, rule: OutboundRule) -> None:
        with self._cond:
            self.rules.append(rule)
        self.start()

    def clear_rules(self) -> None:
        with self._cond:
            self.rules.clear()

    def on_save(self, sobject: str, record_id: str, event: str) -> None:
        """Store listener: cheap, only queues."""
        with self._cond:
            for rule in self.rules:
                if rule.sobject == sobject and event in rule.events:
                    self._pending.append(
                        _Pending(rule, record_id, self.sender.new_notification_id()))
            self._cond.notify_all()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sf-outbound", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _take(self) -> list[_Pending]:
        now = time.monotonic()
        with self._cond:
            due = [p for p in self._pending if p.due <= now]
            if not due:
                return []
            rule = due[0].rule
            batch = [p for p in due if p.rule is rule][:MAX_NOTIFICATIONS]
            taken = {id(p) for p in batch}
            self._pending = [p for p in self._pending if id(p) not in taken]
            self._busy += 1
            return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take()
            if not batch:
                with self._cond:
                    self._cond.wait(self.poll)
                continue
            rule = batch[0].rule
            try:
                deliveries = self.sender.send(rule.url, [p.record_id for p in batch],
                                              fields=rule.fields, duplicates=rule.duplicates,
                                              verify=rule.verify, notification_ids=[
                                                  p.notification_id for p in batch])
                acked = any(d.acked for d in deliveries)
            except KeyError:  # a record vanished (deleted): nothing to announce
                deliveries, acked = [], True
            with self._cond:
                self._busy -= 1
                if not acked:
                    retry = [p for p in batch if p.attempt < rule.max_attempts]
                    for p in retry:
                        p.attempt += 1
                        p.due = time.monotonic() + rule.retry_interval
                    self._pending.extend(retry)
                    if len(retry) < len(batch):
                        self.failures.extend(deliveries[-1:])
                self._cond.notify_all()
