"""``SmtpSink``: an SMTP server on 127.0.0.1 that keeps every message it accepts.

STARTTLS is offered (certificate from a throw-away trustme CA, ``ca_bundle``), never
required; AUTH PLAIN/LOGIN succeeds only with ``username``/``password``. Mail without AUTH
is accepted too unless ``require_auth`` is set (then MAIL FROM answers 530)::

    with SmtpSink() as smtp:
        with smtplib.SMTP(smtp.host, smtp.port) as s:
            s.starttls(context=ssl.create_default_context(cafile=smtp.ca_bundle))
            s.login(smtp.username, smtp.password)
            s.send_message(msg)
        assert smtp.wait_for(1)
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import tempfile
import threading
import weakref
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import trustme

from ._common import FailPlan, Inbox

if TYPE_CHECKING:
    from ._smtp_server import SinkController

__all__ = ["SmtpSink"]


class SmtpSink:
    """An aiosmtpd sink on 127.0.0.1 (free port unless given) with STARTTLS and AUTH."""

    host = "127.0.0.1"

    def __init__(self, port: int = 0, *, username: str = "leadrouter",
                 password: str | None = None, require_auth: bool = False,
                 auth_require_tls: bool = False) -> None:
        self.port = port
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.require_auth = require_auth
        # True: AUTH is only offered after STARTTLS, as most real submission servers do.
        self.auth_require_tls = auth_require_tls
        self._inbox: Inbox[EmailMessage] = Inbox()
        self._fails: FailPlan[int] = FailPlan()
        self._lock = threading.Lock()
        self._controller: SinkController | None = None
        tmp = tempfile.mkdtemp(prefix="leadrouter-smtp-sink-")
        # Removed with the sink (a TemporaryDirectory would warn when collected instead).
        weakref.finalize(self, shutil.rmtree, tmp, ignore_errors=True)
        ca = trustme.CA(organization_name="leadrouter sandbox SMTP CA")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_bundle = str(Path(tmp) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._tls_context = ctx

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind and serve in aiosmtpd's background thread; returns self."""
        with self._lock:
            if self._controller is not None:
                return self
            # Imported here: aiosmtpd is only a test dependency (see the package docstring).
            from ._smtp_server import build_controller

            controller = build_controller(self, port=self.port,
                                          tls_context=self._tls_context,
                                          auth_require_tls=self.auth_require_tls)
            controller.start()
            self.port = int(controller.port)
            self._controller = controller
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        with self._lock:
            controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    # -- what tests read and arrange -------------------------------------------------------
    @property
    def messages(self) -> list[EmailMessage]:
        """A snapshot of the messages accepted so far, oldest first."""
        return self._inbox.snapshot()

    def clear(self) -> None:
        self._inbox.clear()

    def hold_answers(self, seconds: float) -> None:
        """Answer 250 to each message `seconds` after keeping it."""
        self._inbox.hold = seconds

    def fail_next(self, n: int, code: int = 451) -> None:
        """Refuse the next `n` DATA commands with `code` (4xx transient, 5xx permanent)."""
        if not 400 <= code < 600:
            raise ValueError("code must be a 4xx or 5xx SMTP reply code")
        self._fails.arm(n, code)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """True once `count` messages were accepted, False after `timeout` seconds."""
        return self._inbox.wait_for(count, timeout)

    # -- called by the aiosmtpd handler ------------------------------------------------------
    def _take_fault(self) -> int | None:
        return self._fails.take()

    def _accept(self, message: EmailMessage) -> None:
        self._inbox.add(message)

    def __repr__(self) -> str:
        # No password, no message content: test output stays free of PHI and secrets.
        state: Any = "running" if self.running else "stopped"
        return f"SmtpSink({self.host}:{self.port}, {state})"
