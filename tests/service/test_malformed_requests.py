"""Malformed requests from anyone get a 4xx and one redacted log line, never a traceback.

Through the real `leadrouter run` process: HubSpot (sandbox portal) and Salesforce (sandbox
org). The request bodies carry a marker that must never appear in the log.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.hubspot import HubSpotSandbox, contact_creation, sign_v3
from tests.service.conftest import ServiceProcess, http
from tests.service.sf_service import SalesforceService

MARKER = "Jane-Roe-555-0100"


def _signed(svc: ServiceProcess, body: bytes) -> dict[str, str]:
    ts = int(time.time() * 1000)
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(ts),
            "X-HubSpot-Signature-v3": sign_v3(svc.secret, "POST", svc.webhook_url,
                                              body.decode("utf-8", "replace"), ts)}


def _assert_clean_log(log: str, requests: int) -> None:
    assert "Traceback" not in log
    assert MARKER not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    rejected = [line for line in lines if line["event"] == "webhook.rejected"]
    assert len(rejected) == requests, [line["event"] for line in lines]


def test_hubspot_malformed_requests_get_4xx_and_one_log_line_each(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    svc.start()
    cid = box.create_contact({"firstname": "Test", "lastname": "Person"})
    good = json.dumps([contact_creation(cid)]).encode()
    cases: list[tuple[str, bytes, Any, int]] = []
    # timestamps: str.isdigit() accepts these (headers are decoded as Latin-1), int() does
    # not; and a digit run longer than int() converts
    for stamp in ("²", "¹²³", "9" * 5000, "-1", "1e3"):
        headers = {"Content-Type": "application/json",
                   "X-HubSpot-Request-Timestamp": stamp.encode("latin-1"),
                   "X-HubSpot-Signature-v3": "x"}
        cases.append((f"timestamp {stamp[:8]!r}", good, headers, 401))
    # not UTF-8, with a fresh timestamp: the signature cannot be computed over text
    raw = b'[{"x": "\xff\xfe' + MARKER.encode() + b'"}]'
    cases.append(("latin-1 body", raw, {**_signed(svc, b""), "X-HubSpot-Signature-v3": "x"},
                  401))
    signed_bad = [
        ("objectId superscript", [{"objectId": "²", "subscriptionType": "contact.creation",
                                   "occurredAt": 1, "note": MARKER}]),
        ("objectId 80 digits", [{"objectId": int("9" * 80), "subscriptionType":
                                 "contact.creation", "occurredAt": 1}]),
        ("occurredAt year 5 million", [{"objectId": 1, "subscriptionType": "contact.creation",
                                        "occurredAt": 10**20}]),
    ]
    for name, events in signed_bad:
        body = json.dumps(events).encode()
        cases.append((name, body, _signed(svc, body), 400))
    nested = b"[" * 20_000 + b"]" * 20_000
    cases.append(("nested 20000 deep", nested, _signed(svc, nested), 400))
    huge_int = b'[{"objectId": ' + b"7" * 5000 + b"}]"
    cases.append(("5000-digit number", huge_int, _signed(svc, huge_int), 400))
    too_many = json.dumps([contact_creation(cid)] * 101).encode()
    cases.append(("101 events", too_many, _signed(svc, too_many), 413))

    wrong = []
    for name, body, headers, status in cases:
        try:
            with http() as client:
                answer = client.post(svc.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            wrong.append((name, 0, type(exc).__name__))
            continue
        if answer.status_code != status or MARKER in answer.text:
            wrong.append((name, answer.status_code, answer.text[:80]))
    assert wrong == [], "\n".join(map(str, wrong))
    time.sleep(0.3)
    _assert_clean_log(svc.log_path.read_text(), len(cases))
    assert svc.healthz()[0] == 200
    m = svc.metrics()
    assert not any("outcome=error" in key for key in m), m


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    svc.start()
    for path in ("/webhooks/hubspot", "/webhooks/hubspot?x=1"):
        with socket.create_connection(("127.0.0.1", svc.port)) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "application/json\r\nContent-Length: 5000\r\n\r\n[".encode())
            time.sleep(0.2)
    time.sleep(0.5)
    log = svc.log_path.read_text()
    assert "Traceback" not in log
    assert svc.healthz()[0] == 200


def _outbound(box: Any, encoding: str = "UTF-8", notes: int = 1) -> bytes:
    lead = box.create_lead(LastName=MARKER, Insurance_Type__c="commercial")
    body = box.outbound.build([(box.outbound.new_notification_id(), "Lead",
                                {"Id": lead, "LastName": MARKER}) for _ in range(notes)])
    return body.replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())


def _one_more(body: bytes) -> bytes:
    """Salesforce sends at most 100 notifications a message: this one has 101."""
    start = body.index(b"<Notification>")
    end = body.index(b"</Notification>") + len(b"</Notification>")
    return body[:start] + body[start:end] + body[start:]


def test_salesforce_malformed_messages_get_4xx_and_one_log_line_each(
        sf_box: Any, sf_service: Callable[..., SalesforceService]) -> None:
    svc = sf_service().start()
    cases = [
        ("unknown encoding", _outbound(sf_box, "x-nope"), 400),
        ("utf-16 declared", _outbound(sf_box, "UTF-16"), 400),
        ("not UTF-8", _outbound(sf_box).replace(b"Jane", b"\xff\xfe\xfd"), 400),
        ("101 notifications", _one_more(_outbound(sf_box, notes=100)), 413),
    ]
    wrong = []
    for name, body, status in cases:
        answer = svc.post(body)
        if answer.status_code != status or MARKER in answer.text:
            wrong.append((name, answer.status_code, answer.text[:80]))
    assert wrong == [], "\n".join(map(str, wrong))
    time.sleep(0.3)
    _assert_clean_log(svc.log_path.read_text(), len(cases))
    assert svc.inbox_ids() == []
