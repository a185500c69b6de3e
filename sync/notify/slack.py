"""Slack through an incoming webhook (`slack_sdk.webhook.WebhookClient`).

One message to the webhook's channel, mentioning the coordinator's `slack_user` when set.
429 and 5xx are retriable (honouring Retry-After), other 4xx permanent. A webhook cannot be
asked what it received, so an uncertain send is sent again.
"""

from __future__ import annotations

import ssl
from urllib.error import URLError

from slack_sdk.webhook import WebhookClient

from sync.notify.channels import Message, Permanent, Retriable, Uncertain, retry_after

TIMEOUT = 15


class SlackChannel:
    name = "slack"

    def __init__(self, webhook_url: str, ca_bundle: str = "", *,
                 timeout: int = TIMEOUT) -> None:
        context = ssl.create_default_context(cafile=ca_bundle or None)
        # no retry handlers: retries are the outbox's, so one send is one attempt
        self.client = WebhookClient(webhook_url, timeout=timeout, ssl=context,
                                    retry_handlers=[])

    def send(self, message: Message) -> str:
        text = f"<@{message.mention}> {message.text}" if message.mention else message.text
        try:
            response = self.client.send(text=text, unfurl_links=False)
        except TimeoutError:
            raise Uncertain("slack: timed out after sending") from None
        except URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                raise Permanent("slack: the certificate is not trusted (ca_bundle)") from None
            raise Retriable(f"slack: no connection ({type(exc.reason).__name__})") from None
        except (ConnectionError, OSError) as exc:
            raise Uncertain(f"slack: {type(exc).__name__}") from None
        status = response.status_code
        if status == 200:
            return "ok"
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        wait = retry_after(_first(headers.get("retry-after")))
        if status == 429 or status >= 500:
            raise Retriable(f"slack {status}", retry_after=wait)
        raise Permanent(f"slack {status}")

    can_look_up = False

    def already_sent(self, message: Message) -> str | None:
        return None  # an incoming webhook cannot be asked


def _first(value: object) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)
