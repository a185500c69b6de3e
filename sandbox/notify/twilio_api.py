"""``TwilioEmulator``: Twilio's Messages API (2010-04-01, JSON) over HTTPS on 127.0.0.1.

Endpoints, Basic auth with ``account_sid``/``auth_token`` (401 code 20003 otherwise):

- ``POST /2010-04-01/Accounts/{sid}/Messages.json``: form ``To`` (E.164, else 400 code
  21211), ``From`` (21603), ``Body`` (21602); 201 with the message resource, status queued.
- ``GET  /2010-04-01/Accounts/{sid}/Messages.json``: newest first, filters ``To``,
  ``From``, ``DateSent`` / ``DateSent>`` (on or after) / ``DateSent<`` (on or before),
  each ``YYYY-MM-DD`` or ISO 8601; ``PageSize`` (default 50) and ``Page`` paging.
- ``GET  /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json``.

Messages never leave the emulator, so ``date_sent`` stays null and the ``DateSent``
filters compare ``date_created``.

Pointing the real ``twilio`` package (9.x) at it: every request URL is the domain's
``base_url`` plus the resource path, so override the ``api`` domain's ``base_url`` and
give the client an HTTP client whose requests session trusts the CA::

    http = TwilioHttpClient()
    http.session.verify = tw.ca_bundle  # the session is kept (pool_connections=True)
    http.session.trust_env = False      # no proxy / REQUESTS_CA_BUNDLE from the environment
    client = Client(tw.account_sid, tw.auth_token, http_client=http)
    client.api.base_url = tw.base_url   # client.api is created once and cached
    client.messages.create(to="+15005550006", from_="+15005550001", body="...")

(Leave ``edge``/``region`` unset: with either set the client rewrites the host name.)
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from sandbox._server import Request, Response, TLSServer
from sandbox.emulator_base import ServedEmulator

from ._common import FailPlan, Inbox

__all__ = ["TwilioEmulator"]

API = "/2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_LIST = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
_ONE = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages/(SM[0-9a-f]{32})\.json$")
_ERRORS = {400: (21211, "Invalid 'To' Phone Number"), 401: (20003, "Authenticate"),
           404: (20404, "The requested resource was not found"),
           405: (20004, "Method not allowed"), 429: (20429, "Too Many Requests"),
           500: (20500, "Internal Server Error"), 502: (20500, "Bad Gateway"),
           503: (20503, "Service Unavailable")}


def _error(status: int, code: int | None = None, message: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    """Twilio's JSON error body; messages never echo request values (PHI)."""
    default_code, default_message = _ERRORS.get(status, (20500, "Error"))
    code = code or default_code
    body = {"code": code, "message": message or default_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return Response(status, body, headers or {})


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None
    accepted: bool


@dataclass
class _Stored:
    resource: dict[str, Any]
    created: datetime


def _bound(text: str) -> tuple[datetime, bool]:
    """A DateSent filter value as (instant, date-only?)."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC), True
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), False


def _matches(item: _Stored, q: dict[str, list[str]]) -> bool:
    res = item.resource
    if "To" in q and res["to"] != q["To"][0]:
        return False
    if "From" in q and res["from"] != q["From"][0]:
        return False
    # A URL's "DateSent>=2026-01-01" arrives as the parameter "DateSent>", value "2026-...".
    for key, value in q.items():
        if not key.startswith("DateSent"):
            continue
        bound, whole_day = _bound(value[0])
        at = item.created.date() if whole_day else item.created
        ref = bound.date() if whole_day else bound
        op = key[len("DateSent"):]
        if (op == "" and item.created.date() != bound.date()) or (op == ">" and at < ref) \
                or (op == "<" and at > ref):
            return False
    return True


class _TwilioApp:
    """The Messages resource of one account."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.inbox: Inbox[_Stored] = Inbox()
        self.fails: FailPlan[_Fault] = FailPlan()
        self._lock = threading.Lock()

    def _authorized(self, req: Request, path_sid: str) -> bool:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, token = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (secrets.compare_digest(user, self.account_sid)
                and secrets.compare_digest(token, self.auth_token)
                and path_sid == self.account_sid)

    def __call__(self, req: Request) -> Response:
        listing, one = _LIST.match(req.path), _ONE.match(req.path)
        found = listing or one
        if found is None:
            return _error(404)
        if not self._authorized(req, found.group(1)):
            return _error(401, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if one is not None:
            if req.method != "GET":
                return _error(405)
            for item in self.inbox.snapshot():
                if item.resource["sid"] == one.group(2):
                    return Response(200, item.resource)
            return _error(404)
        if req.method == "POST":
            return self._create(req)
        if req.method == "GET":
            return self._list(req)
        return _error(405)

    def _create(self, req: Request) -> Response:
        form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        to, sender, body = (form.get(k, [""])[0] for k in ("To", "From", "Body"))
        if not _E164.match(to):
            return _error(400, 21211)
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        fault = self.fails.take()
        if fault is not None and not fault.accepted:
            return self._fault(fault)
        now = datetime.now(UTC).replace(microsecond=0)
        sid = "SM" + secrets.token_hex(16)
        stamp = format_datetime(now)
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
            "date_created": stamp, "date_sent": None, "date_updated": stamp,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": sender, "messaging_service_sid": None, "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "to": to, "uri": uri,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json"),
                                 "feedback": uri.replace(".json", "/Feedback.json")},
        }
        self.inbox.add(_Stored(resource, now))
        if fault is not None:  # accepted: stored, yet the caller sees an error
            return self._fault(fault)
        return Response(201, resource)

    @staticmethod
    def _fault(fault: _Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
        return _error(fault.status, headers=headers)

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            size = min(max(int(q.get("PageSize", ["50"])[0]), 1), 1000)
            page = max(int(q.get("Page", ["0"])[0]), 0)
            items = [i for i in self.inbox.snapshot() if _matches(i, q)]
        except ValueError:
            return _error(400, 20001, "Invalid filter or paging parameter")
        items.reverse()  # newest first, as Twilio lists them
        start = page * size
        chunk = items[start:start + size]
        base = f"{API}/Accounts/{self.account_sid}/Messages.json"
        keep = {k: v[0] for k, v in q.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(n: int) -> str:
            return f"{base}?{urlencode({**keep, 'PageSize': size, 'Page': n})}"

        more = start + size < len(items)
        return Response(200, {
            "messages": [i.resource for i in chunk],
            "end": start + max(len(chunk) - 1, 0), "start": start, "page": page,
            "page_size": size, "uri": page_uri(page), "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if more else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        })


def _fault_response(status: int) -> Response:
    return _error(status)


def _is_write(req: Request) -> bool:
    return req.method == "POST"


class TwilioEmulator(ServedEmulator):
    """An HTTPS Twilio Messages API for one account; ``base_url`` is the client's api_base."""

    def __init__(self, port: int = 0, *, account_sid: str | None = None,
                 auth_token: str | None = None) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.app = _TwilioApp(self.account_sid, self.auth_token)
        self.server = TLSServer(self.app, port=port, is_write=_is_write,
                                fault_response=_fault_response)

    @property
    def ca_bundle(self) -> str:
        """Path of a PEM CA file that trusts the emulator's certificate."""
        return self.ca_file

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Stored messages, oldest first: sid, to, from, body, status, date_created."""
        keys = ("sid", "to", "from", "body", "status", "date_created")
        return [{k: i.resource[k] for k in keys} for i in self.app.inbox.snapshot()]

    def clear(self) -> None:
        self.app.inbox.clear()

    def hold_answers(self, seconds: float) -> None:
        """Answer each stored message `seconds` after storing it."""
        self.app.inbox.hold = seconds

    def fail_next(self, n: int, status: int = 500, retry_after: int | None = None,
                  accepted: bool = False) -> None:
        """The next `n` valid message creates answer `status` (with ``Retry-After`` when
        given); ``accepted=True`` stores each message anyway: an uncertain send."""
        if not 400 <= status < 600:
            raise ValueError("status must be 4xx or 5xx")
        self.app.fails.arm(n, _Fault(status, retry_after, accepted))

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """True once `count` messages are stored, False after `timeout` seconds."""
        return self.app.inbox.wait_for(count, timeout)

    def __repr__(self) -> str:
        return f"TwilioEmulator({self.base_url or 'stopped'})"
