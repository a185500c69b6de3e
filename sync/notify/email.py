"""Email through an SMTP relay (stdlib `smtplib`), STARTTLS or implicit TLS.

4xx replies are retriable, 5xx permanent; a connection lost after the message data was sent
is uncertain. SMTP offers no look-up, so an uncertain message is sent again with the same
Message-ID (mail clients fold the copies together).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from sync.config.notifications import EmailTable
from sync.notify.channels import Message, Permanent, Retriable, SendError, Uncertain

TIMEOUT = 20.0


class _Tracked(smtplib.SMTP):
    """Knows whether DATA was sent: a failure after it may have delivered the message."""

    data_sent = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_sent = True
        return super().data(msg)


class _TrackedSSL(smtplib.SMTP_SSL):
    data_sent = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_sent = True
        return super().data(msg)


class EmailChannel:
    name = "email"

    def __init__(self, table: EmailTable, username: str = "", password: str = "",
                 *, timeout: float = TIMEOUT) -> None:
        self.table = table
        self.username = username
        self.password = password
        self.timeout = timeout

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.table.ca_bundle or None)

    def _connect(self) -> _Tracked | _TrackedSSL:
        t = self.table
        if t.security == "tls":
            return _TrackedSSL(t.host, t.port, timeout=self.timeout, context=self._tls())
        smtp = _Tracked(t.host, t.port, timeout=self.timeout)
        if t.security == "starttls":
            smtp.starttls(context=self._tls())
        return smtp

    def _message(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.table.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        domain = self.table.sender.rpartition("@")[2] or "leadrouter.invalid"
        mail["Message-ID"] = f"<leadrouter.{message.ref}@{domain}>"  # same on every retry
        mail.set_content(message.text)
        return mail

    def send(self, message: Message) -> str:
        smtp: _Tracked | _TrackedSSL | None = None
        try:
            smtp = self._connect()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(self._message(message))
            # the relay accepted the message; a lost goodbye changes nothing
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            return "accepted"
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes) if codes else 550, "recipient refused") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, "smtp") from None
        except smtplib.SMTPNotSupportedError:
            raise Permanent("smtp: the relay does not offer STARTTLS or AUTH") from None
        except ssl.SSLCertVerificationError:
            raise Permanent("smtp: the relay's certificate is not trusted (ca_bundle)") from None
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None and smtp.data_sent:
                raise Uncertain(f"smtp: connection lost after DATA ({type(exc).__name__})"
                                ) from None
            raise Retriable(f"smtp: {type(exc).__name__}") from None
        finally:
            if smtp is not None:
                with contextlib.suppress(OSError):
                    smtp.close()

    can_look_up = False

    def already_sent(self, message: Message) -> str | None:
        return None  # SMTP cannot be asked


def _by_code(code: int, what: str) -> SendError:
    if 400 <= code < 500:
        return Retriable(f"{what} {code}")
    return Permanent(f"{what} {code}")
