"""The dashboard's access rule on real Starlette requests from chosen client addresses
(starlette's TestClient sets the peer), behind the service's own trusted-proxy handling.
No browser needed: these run everywhere."""

from __future__ import annotations

import base64
import warnings
from ipaddress import ip_network
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sync.context import StartupError
from sync.service.access import dashboard_password, refusal
from sync.service.intake import ForwardedHeaders

with warnings.catch_warnings():  # starlette 1.x suggests httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LOOPBACK_PROXIES = (ip_network("127.0.0.1/32"), ip_network("::1/128"))


def app(password: str) -> Any:  # an ASGI app
    async def page(request: Request) -> Response:
        return refusal(request, password) or PlainTextResponse("dashboard")
    return ForwardedHeaders(Starlette(routes=[Route("/", page)]), LOOPBACK_PROXIES)


def status(peer: str, password: str = "", **headers: str) -> int:
    with TestClient(app(password), client=(peer, 50000)) as client:
        return client.get("/", headers=headers).status_code


def auth(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.10.0.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_peers_may_look_without_a_password(peer: str) -> None:
    assert status(peer) == 200


@pytest.mark.parametrize("peer", ["10.0.0.5", "192.168.1.20", "203.0.113.7", "2001:db8::1",
                                  "::ffff:10.0.0.5", "testclient", ""])
def test_other_peers_get_403_without_a_password(peer: str) -> None:
    assert status(peer) == 403


def test_forwarded_clients_count_only_from_a_trusted_proxy() -> None:
    assert status("127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"}) == 403
    assert status("127.0.0.1", **{"X-Forwarded-For": "not an address"}) == 403
    assert status("127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}) == 200
    # from an untrusted peer the header is ignored: it cannot make a stranger local
    assert status("203.0.113.7", **{"X-Forwarded-For": "127.0.0.1"}) == 403


@pytest.mark.parametrize("peer", ["127.0.0.1", "203.0.113.7"])
def test_with_a_password_only_the_password_counts(peer: str) -> None:
    secret = "s3cret:with:colons é"
    assert status(peer, secret) == 401
    assert status(peer, secret, Authorization=auth(f"anyone:{secret}")) == 200
    assert status(peer, secret, Authorization=auth(f":{secret}")) == 200
    for wrong in (auth("anyone:s3cret"), auth(secret), auth(f"anyone:{secret} "),
                  "Basic not-base64!", "Bearer token", "Basic", ""):
        assert status(peer, secret, Authorization=wrong) == 401, wrong
    with TestClient(app(secret), client=(peer, 50000)) as client:
        response = client.get("/")
    assert response.headers["www-authenticate"] == 'Basic realm="leadrouter"'


def test_the_password_variable_must_hold_a_password_when_named() -> None:
    assert dashboard_password("", {}) == ""
    assert dashboard_password("DASH", {"DASH": "pw"}) == "pw"
    for environ in ({}, {"DASH": ""}):
        with pytest.raises(StartupError, match=r"DASH \(\[service\] dashboard_password_env\)"):
            dashboard_password("DASH", environ)
