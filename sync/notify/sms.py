"""SMS through Twilio Programmable Messaging (the `twilio` client, base URL and CA bundle
overridable for tests and proxies).

429 and 5xx before the message was taken are retriable; a timeout, a lost connection or a
5xx after the request was sent are uncertain: before sending again, the messages sent to that
number since yesterday are listed and searched for this notification's `ref` marker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from sync.config.notifications import SmsTable
from sync.notify.channels import Message, Permanent, Retriable, Uncertain, retry_after

TWILIO_BASE = "https://api.twilio.com"
TIMEOUT = 15.0
LOOKBACK = timedelta(days=1)


class _HttpClient(TwilioHttpClient):
    """Sends Twilio's requests to `api_base`, trusting `ca_bundle`."""

    def __init__(self, api_base: str, ca_bundle: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        # twilio logs each request's query at INFO (a list call carries the phone number):
        # PHI must not reach the log, so only its warnings and errors pass
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
        self.api_base = api_base.rstrip("/")
        if ca_bundle and self.session is not None:
            self.session.verify = ca_bundle
            self.session.trust_env = False  # REQUESTS_CA_BUNDLE must not override it

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_BASE):
            url = self.api_base + url[len(TWILIO_BASE):]
        return super().request(method, url, *args, **kwargs)


class SmsChannel:
    name = "sms"

    def __init__(self, table: SmsTable, account_sid: str, auth_token: str, *,
                 timeout: float = TIMEOUT) -> None:
        self.sender = table.sender
        self.http = _HttpClient(table.api_base, table.ca_bundle, timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)

    def send(self, message: Message) -> str:
        try:
            sent = self.client.messages.create(to=message.to, from_=self.sender,
                                               body=message.text)
        except TwilioRestException as exc:
            raise self._refused(exc) from None
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise Retriable(f"twilio: {type(exc).__name__}") from None
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise Uncertain(f"twilio: {type(exc).__name__} after sending") from None
        return str(sent.sid)

    def _refused(self, exc: TwilioRestException) -> Exception:
        status = int(exc.status)
        last = getattr(self.http, "_test_only_last_response", None)
        headers = dict(getattr(last, "headers", None) or {})
        wait = retry_after(next((str(v) for k, v in headers.items()
                                 if k.lower() == "retry-after"), None))
        code = f" (code {exc.code})" if exc.code else ""
        if status == 429:
            return Retriable(f"twilio 429{code}", retry_after=wait)
        if status >= 500:  # Twilio may have taken the message before failing
            return Uncertain(f"twilio {status}{code}", retry_after=wait)
        return Permanent(f"twilio {status}{code}")

    can_look_up = True

    def already_sent(self, message: Message) -> str | None:
        """The sid of a message to `message.to` since yesterday carrying `message.ref`."""
        since = datetime.now(UTC) - LOOKBACK
        try:
            found = self.client.messages.list(to=message.to, date_sent_after=since,
                                              limit=200)
        except TwilioRestException as exc:
            raise Retriable(f"twilio lookup {exc.status}") from None
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise Retriable(f"twilio lookup: {type(exc).__name__}") from None
        marker = f"ref {message.ref}"
        for sent in found:
            if marker in str(sent.body or "") and str(sent.status or "") not in (
                    "failed", "undelivered", "canceled"):
                return str(sent.sid)
        return None
