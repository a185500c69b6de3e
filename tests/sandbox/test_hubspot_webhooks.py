"""Webhook deliveries: v3 signatures checked by hubspot.utils.signature, delivery faults."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from sandbox.hubspot import HubSpotSandbox, WebhookSender
from sandbox.hubspot.webhooks import contact_creation, property_change, sign_v3

from .conftest import hubspot_client_for

pytestmark = pytest.mark.timeout(30)

SECRET = "sandbox-client-secret"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """A loopback HTTP endpoint that records every delivery and answers 204."""

    url: str
    got: list[Received] = field(default_factory=list)


@pytest.fixture
def hubspot_webhook_receiver() -> Iterator[Receiver]:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(Received("POST", self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/webhooks/hubspot",
                       received)
    finally:
        server.shutdown()
        server.server_close()


def verify(r: Received, url: str) -> bool:
    return Signature.is_valid(
        signature=r.headers["X-HubSpot-Signature-v3"], client_secret=SECRET,
        request_body=r.body, http_uri=url, http_method=r.method, signature_version="v3",
        timestamp=r.headers["X-HubSpot-Request-Timestamp"])


def test_signed_batches_verify_with_the_sdk(hubspot_box: HubSpotSandbox,
                                            hubspot_webhook_receiver: Receiver) -> None:
    rx = hubspot_webhook_receiver
    ids = [hubspot_box.create_contact({"firstname": f"W{i}"}) for i in range(3)]
    events = [contact_creation(i) for i in ids] + [
        property_change(ids[0], "hubspot_owner_id", "1001")]
    sender = WebhookSender(rx.url, SECRET)
    deliveries = sender.send(events, batch_size=2)
    assert [d.status for d in deliveries] == [204, 204]
    assert len(rx.got) == 2
    for r in rx.got:
        assert r.path == "/webhooks/hubspot"
        assert verify(r, rx.url)
        assert r.headers["Content-Type"] == "application/json"
    batch = json.loads(rx.got[0].body)
    assert isinstance(batch, list)
    first = batch[0]
    assert first["subscriptionType"] == "contact.creation"
    assert str(first["objectId"]) == ids[0]
    assert {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "attemptNumber",
            "changeSource"} <= set(first)
    change = json.loads(rx.got[1].body)[-1]
    assert (change["subscriptionType"], change["propertyName"], change["propertyValue"]) == (
        "contact.propertyChange", "hubspot_owner_id", "1001")
    # The helper computes exactly what the SDK computes.
    r = rx.got[0]
    assert sign_v3(SECRET, "POST", rx.url, r.body, r.headers["X-HubSpot-Request-Timestamp"]
                   ) == r.headers["X-HubSpot-Signature-v3"]


def test_wrong_signature_and_stale_timestamp(hubspot_webhook_receiver: Receiver) -> None:
    rx = hubspot_webhook_receiver
    sender = WebhookSender(rx.url, SECRET)
    sender.send([contact_creation(101)], bad_signature=True)
    assert not verify(rx.got[-1], rx.url)
    sender.send([contact_creation(102)], stale=True)
    with pytest.raises(InvalidSignatureTimestampError):
        verify(rx.got[-1], rx.url)
    # Signed for another URI (e.g. behind a proxy that rewrites the path): invalid.
    sender.send([contact_creation(103)])
    assert not verify(rx.got[-1], rx.url + "x")


def test_duplicates_and_out_of_order(hubspot_webhook_receiver: Receiver) -> None:
    rx = hubspot_webhook_receiver
    events = [contact_creation(200 + i, occurred_at=1_700_000_000_000 + i) for i in range(12)]
    sender = WebhookSender(rx.url, SECRET, seed=5)
    sender.send(events, batch_size=3, duplicate=True, out_of_order=True)
    assert len(rx.got) == 8
    assert all(verify(r, rx.url) for r in rx.got)
    delivered = [e for r in rx.got for e in json.loads(r.body)]
    counts = Counter(e["eventId"] for e in delivered)
    assert set(counts.values()) == {2} and len(counts) == 12
    assert {e["attemptNumber"] for e in delivered} == {0, 1}
    occurred = [e["occurredAt"] for e in delivered]
    assert occurred != sorted(occurred)


def test_event_ids_can_repeat_on_demand(hubspot_webhook_receiver: Receiver) -> None:
    # HubSpot does not promise unique eventIds: receivers must not dedupe on them alone.
    rx = hubspot_webhook_receiver
    sender = WebhookSender(rx.url, SECRET)
    sender.send([contact_creation(301, event_id=7), property_change(301, "state", "AZ",
                                                                    event_id=7)])
    batch = json.loads(rx.got[0].body)
    assert [e["eventId"] for e in batch] == [7, 7]


def test_unreachable_target_is_recorded_not_raised() -> None:
    sender = WebhookSender("http://127.0.0.1:9/webhooks/hubspot", SECRET, timeout=1.0)
    (d,) = sender.send([contact_creation(1)])
    assert d.status == 0 and d.error


def test_sandbox_emits_webhooks_for_changes(hubspot_box: HubSpotSandbox,
                                            hubspot_webhook_receiver: Receiver) -> None:
    rx = hubspot_webhook_receiver
    emitter = hubspot_box.subscribe_webhooks(rx.url, SECRET, interval=0.05)
    cid = hubspot_box.create_contact({"firstname": "Hook"})
    client = hubspot_client_for(hubspot_box)
    client.crm.contacts.basic_api.update(cid, simple_public_object_input={
        "properties": {"hubspot_owner_id": "1001", "state": "AZ"}})
    hubspot_box.set_owner_by_hand(cid, "1002")
    assert emitter.flush()
    assert all(verify(r, rx.url) for r in rx.got)
    events = [e for r in rx.got for e in json.loads(r.body)]
    assert [(e["subscriptionType"], e.get("propertyValue"), e["changeSource"])
            for e in events] == [
        ("contact.creation", None, "FORM"),
        ("contact.propertyChange", "1001", "INTEGRATION"),  # 'state' is not subscribed
        ("contact.propertyChange", "1002", "CRM_UI"),
    ]
    assert {str(e["objectId"]) for e in events} == {cid}


def test_paused_webhooks_are_delivered_late_as_one_batch(
        hubspot_box: HubSpotSandbox, hubspot_webhook_receiver: Receiver) -> None:
    rx = hubspot_webhook_receiver
    emitter = hubspot_box.subscribe_webhooks(rx.url, SECRET, interval=0.01, duplicate=True)
    emitter.paused = True
    ids = [hubspot_box.create_contact({"firstname": f"P{i}"}) for i in range(3)]
    assert not emitter.flush(timeout=0.3)
    assert rx.got == []
    emitter.resume()
    assert emitter.flush()
    assert len(rx.got) == 2  # one batch, delivered twice
    assert [str(e["objectId"]) for e in json.loads(rx.got[0].body)] == ids
