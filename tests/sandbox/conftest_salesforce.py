"""Fixtures for the Salesforce emulator tests.

Test modules load them with ``pytest_plugins = ["tests.sandbox.conftest_salesforce"]``
(``tests/sandbox/conftest.py`` belongs to the shared fixtures and stays untouched).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox._server import LoggedRequest, Request, Response, TLSServer
from sandbox.salesforce import SalesforceSandbox, ack_response

# simple-salesforce builds ``sf.Lead`` & co. dynamically (typed as a union with the bulk
# APIs) and ``restful`` returns ``Optional[Any]``: tests use the client untyped.
Client = Any


LogWait = Callable[[SalesforceSandbox, int], list[LoggedRequest]]


def client_session(ca_file: str) -> requests.Session:
    """The session setup that works with REQUESTS_CA_BUNDLE set (see sandbox.salesforce)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    return session


def make_client(box: SalesforceSandbox, token: str | None = None) -> Client:
    return Salesforce(instance_url=box.instance_url, session_id=token or box.token,
                      session=client_session(box.ca_file))


def wait_for_log(box: SalesforceSandbox, n: int, timeout: float = 2.0) -> list[LoggedRequest]:
    """The request log once it holds ``n`` entries: the server appends an entry just after
    flushing the reply, so a client can see the answer a moment before the log does."""
    deadline = time.monotonic() + timeout
    while len(box.request_log) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    return list(box.request_log)


@pytest.fixture
def sf_client_for() -> Callable[..., Client]:
    """``factory(box, token=None)``: a simple-salesforce client for any sandbox."""
    return make_client


@pytest.fixture
def sf_wait_log() -> LogWait:
    """``wait(box, n)``: see :func:`wait_for_log`."""
    return wait_for_log


@pytest.fixture
def sf_box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as box:
        box.seed_demo()
        yield box
        # The server answers an emulator crash with a 500; no test expects one.
        assert [type(e).__name__ for e in box.server.app_errors] == []


@pytest.fixture
def sf(sf_box: SalesforceSandbox) -> Iterator[Client]:
    client = make_client(sf_box)
    yield client
    client.session.close()


@dataclass
class Receiver:
    """An HTTPS listener for Outbound Messages (answers Ack true unless told otherwise)."""

    server: TLSServer
    bodies: list[bytes] = field(default_factory=list, repr=False)
    ack: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.base_url + "/webhooks/salesforce"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    def app(req: Request) -> Response:
        rec = holder[0]
        with rec.lock:
            rec.bodies.append(req.body)
        return Response(200, ack_response(rec.ack), content_type="text/xml; charset=utf-8")

    with TLSServer(app) as server:
        holder.append(Receiver(server))
        yield holder[0]
