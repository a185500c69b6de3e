"""Who may see the dashboard (CONTRACTS Part 2, "Access").

With `[service] dashboard_password_env` set: HTTP Basic auth with that password, any user
name, compared in constant time. Without it: loopback clients only. The client address is
the one `intake.ForwardedHeaders` left in the scope: the peer, or the client a trusted
proxy forwarded for -- so a proxy on the same host does not make every visitor "local".
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from hashlib import sha256

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from sync.context import StartupError
from sync.service.intake import parse_address

REALM = 'Basic realm="leadrouter"'


def dashboard_password(env_name: str, environ: Mapping[str, str]) -> str:
    """The password named by `dashboard_password_env`; "" when the key is unset.

    A key naming an empty or missing variable stops the start: serving the dashboard
    without the password someone meant to require would fail open."""
    if not env_name:
        return ""
    password = environ.get(env_name, "")
    if not password:
        raise StartupError(f"environment variable {env_name} ([service] "
                           "dashboard_password_env) is empty: set it to the dashboard "
                           "password, or remove the key to allow loopback clients only")
    return password


def is_loopback(request: Request) -> bool:
    """The client (as the trusted-proxy handling left it) is on a loopback address."""
    client = request.scope.get("client")
    address = parse_address(str(client[0])) if client else None
    if address is None:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return bool((mapped or address).is_loopback)


def basic_password(request: Request) -> str | None:
    """The password of an `Authorization: Basic` header; None when absent or malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 4096:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")  # any user name
    return password if colon else None


def same_secret(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths: both sides are hashed to 32 bytes first."""
    return hmac.compare_digest(sha256(given.encode()).digest(),
                               sha256(expected.encode()).digest())


def refusal(request: Request, password: str) -> Response | None:
    """None when the request may see the dashboard, else the 401/403 to answer."""
    if password:
        given = basic_password(request)
        if given is not None and same_secret(given, password):
            return None
        return PlainTextResponse("authentication required\n", status_code=401,
                                 headers={"WWW-Authenticate": REALM,
                                          "Cache-Control": "no-store"})
    if is_loopback(request):
        return None
    return PlainTextResponse(
        "the dashboard answers loopback clients only; set [service] dashboard_password_env "
        "to open it to others with a password\n", status_code=403,
        headers={"Cache-Control": "no-store"})
