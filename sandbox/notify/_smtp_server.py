"""The aiosmtpd side of `SmtpSink` (imported only when a sink starts: aiosmtpd is a test
dependency, not a runtime one)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["SinkController", "SinkState", "build_controller"]


class SinkState(Protocol):
    """What the handler needs of the sink (kept as a protocol: no import cycle)."""

    username: str
    password: str
    require_auth: bool

    def _take_fault(self) -> int | None: ...

    def _accept(self, message: EmailMessage) -> None: ...


class _Handler:
    """aiosmtpd hooks: auth gate on MAIL, injected failures and parsing on DATA."""

    def __init__(self, sink: SinkState) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        # Read per command, so tests may flip `require_auth` on a running sink.
        if self.sink.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        code = self.sink._take_fault()
        if code is not None:
            if 400 <= code < 500:
                return f"{code} 4.3.0 Sandbox: transient failure, try again later"
            return f"{code} 5.6.0 Sandbox: message rejected"
        raw = envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        message = email.message_from_bytes(data, policy=email.policy.default)
        self.sink._accept(cast(EmailMessage, message))
        return "250 2.0.0 Message accepted for delivery"


def _authenticator(sink: SinkState) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str,
              auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = secrets.compare_digest(auth_data.login, sink.username.encode("utf-8")) and \
            secrets.compare_digest(auth_data.password, sink.password.encode("utf-8"))
        return AuthResult(success=ok, handled=False)

    return check


class SinkController(Controller):
    """A `Controller` that may bind port 0 (aiosmtpd 1.4 would probe port 0 itself)."""

    def _trigger_server(self) -> None:
        server = self.server
        if self.port == 0 and isinstance(server, asyncio.Server):
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()


def build_controller(sink: SinkState, *, port: int, tls_context: ssl.SSLContext,
                     auth_require_tls: bool) -> SinkController:
    """An unstarted controller on 127.0.0.1 offering STARTTLS (not requiring it) and AUTH."""
    return SinkController(
        _Handler(sink),
        hostname="127.0.0.1",
        port=port,
        server_hostname="sandbox.smtp.local",
        tls_context=tls_context,
        require_starttls=False,
        authenticator=_authenticator(sink),
        auth_required=False,  # enforced in handle_MAIL instead, switchable at runtime
        auth_require_tls=auth_require_tls,
        decode_data=False,
    )
