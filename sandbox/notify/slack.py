"""``SlackReceiver``: a Slack incoming-webhook endpoint over HTTPS on 127.0.0.1.

Answers as Slack does: 200 ``ok`` (text/plain) for a JSON body with ``text`` or ``blocks``,
400 ``invalid_payload`` for anything else, 404 ``no_service`` for any other path. Use with
slack-sdk::

    with SlackReceiver() as slack:
        ctx = ssl.create_default_context(cafile=slack.ca_bundle)
        WebhookClient(slack.url, ssl=ctx).send(text="...")
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from sandbox._server import Request, Response, TLSServer
from sandbox.emulator_base import ServedEmulator

from ._common import FailPlan, Inbox

__all__ = ["SlackReceiver"]

_ALNUM = string.ascii_uppercase + string.digits
_BODIES = {400: "invalid_payload", 403: "invalid_token", 404: "no_service",
           410: "channel_is_archived", 429: "rate_limited"}


def _token(prefix: str, n: int, alphabet: str = _ALNUM) -> str:
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def _text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, body, headers or {}, content_type="text/plain; charset=utf-8")


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None


class _SlackApp:
    """The webhook endpoint: one path, JSON bodies, Slack's plain-text answers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.inbox: Inbox[dict[str, Any]] = Inbox()
        self.fails: FailPlan[_Fault] = FailPlan()

    def __call__(self, req: Request) -> Response:
        if req.path != self.path:
            return _text(404, "no_service")
        if req.method != "POST":
            return _text(405, "invalid_method")
        fault = self.fails.take()
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            body = _BODIES.get(fault.status, "internal_error" if fault.status >= 500 else "error")
            return _text(fault.status, body, headers)
        try:
            payload = req.json()
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return _text(400, "invalid_payload")
        self.inbox.add(payload)
        return _text(200, "ok")


def _fault_response(status: int) -> Response:
    return _text(status, "internal_error")


class SlackReceiver(ServedEmulator):
    """An HTTPS incoming-webhook receiver; ``url`` is the full webhook URL to post to."""

    def __init__(self, port: int = 0) -> None:
        team, bot = _token("T", 8), _token("B", 10)
        secret = _token("", 24, string.ascii_letters + string.digits)
        self.path = f"/services/{team}/{bot}/{secret}"
        self.app = _SlackApp(self.path)
        self.server = TLSServer(self.app, port=port, fault_response=_fault_response)

    @property
    def url(self) -> str:
        """The webhook URL (empty until started: the port is chosen on start)."""
        return self.base_url + self.path if self.base_url else ""

    @property
    def ca_bundle(self) -> str:
        """Path of a PEM CA file that trusts the receiver's certificate."""
        return self.ca_file

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A snapshot of the accepted JSON bodies, oldest first."""
        return self.app.inbox.snapshot()

    def clear(self) -> None:
        self.app.inbox.clear()

    def hold_answers(self, seconds: float) -> None:
        """Answer each accepted message `seconds` after keeping it."""
        self.app.inbox.hold = seconds

    def fail_next(self, n: int, status: int = 500, retry_after: int | None = None) -> None:
        """Answer the next `n` posts with `status` (and ``Retry-After: retry_after``),
        without keeping them."""
        if not 400 <= status < 600:
            raise ValueError("status must be 4xx or 5xx")
        self.app.fails.arm(n, _Fault(status, retry_after))

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """True once `count` messages were accepted, False after `timeout` seconds."""
        return self.app.inbox.wait_for(count, timeout)

    def __repr__(self) -> str:
        # The path holds the webhook secret: not shown.
        return f"SlackReceiver({self.base_url or 'stopped'})"


