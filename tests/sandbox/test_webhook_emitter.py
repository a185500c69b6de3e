"""The webhook emitter survives a receiver that dies mid-answer (as a SIGKILLed service does):
the cut-off delivery is recorded as failed (status 0) and later deliveries still go out."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from sandbox.hubspot import HubSpotSandbox, WebhookSender
from sandbox.hubspot.webhooks import contact_creation

pytestmark = pytest.mark.timeout(30)

SECRET = "sandbox-client-secret"
# Declares 100 body bytes, sends 5, then the connection closes: IncompleteRead on read().
CUT_OFF = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort"
# Not HTTP at all: BadStatusLine, an HTTPException that is not an OSError.
GARBAGE = b"SSH-2.0-not-http\r\n"
GOOD = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


@dataclass
class RawReceiver:
    """A loopback socket server: answers the n-th POST with ``answers[n]`` (``GOOD`` once
    they run out) and closes; ``bodies`` holds every request body it read in full."""

    url: str
    answers: list[bytes]
    bodies: list[bytes] = field(default_factory=list)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return body


@pytest.fixture
def raw_receiver() -> Iterator[RawReceiver]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    rx = RawReceiver(f"http://127.0.0.1:{listener.getsockname()[1]}/webhooks/hubspot", [])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                rx.bodies.append(_read_request(conn))
                conn.sendall(rx.answers.pop(0) if rx.answers else GOOD)
                conn.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield rx
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(("answer", "error"), [(CUT_OFF, "IncompleteRead"),
                                               (GARBAGE, "BadStatusLine")],
                         ids=["cut-off-body", "not-http"])
def test_broken_answer_is_a_failed_delivery(raw_receiver: RawReceiver, answer: bytes,
                                            error: str) -> None:
    raw_receiver.answers = [answer]
    sender = WebhookSender(raw_receiver.url, SECRET, timeout=5.0)
    failed = sender.post([contact_creation(101)])
    ok = sender.post([contact_creation(102)])
    assert (failed.status, failed.error, failed.response) == (0, error, b"")
    assert (ok.status, ok.error) == (204, "")
    assert sender.deliveries == [failed, ok]


def test_emitter_survives_a_receiver_killed_mid_answer(hubspot_box: HubSpotSandbox,
                                                       raw_receiver: RawReceiver) -> None:
    raw_receiver.answers = [CUT_OFF]
    emitter = hubspot_box.subscribe_webhooks(raw_receiver.url, SECRET, interval=0.01)
    first = hubspot_box.create_contact({"hs_lead_status": "NEW"})
    assert emitter.flush()
    second = hubspot_box.create_contact({"hs_lead_status": "NEW"})
    assert emitter.flush(), "emitter thread died on the cut-off answer"
    deliveries = emitter.sender.deliveries
    assert [(d.status, d.error) for d in deliveries] == [(0, "IncompleteRead"), (204, "")]
    assert [[str(e["objectId"]) for e in d.events] for d in deliveries] == [[first], [second]]
    assert [[str(e["objectId"]) for e in json.loads(b)] for b in raw_receiver.bodies] == [
        [first], [second]]
