"""The demo's message receivers, and an on-call person who taps most acknowledgement links.

The receivers are the sandbox's (an SMTP sink, a Slack webhook receiver, a Twilio emulator),
on loopback; what they get is shown by the feed from the lead trail (`notified` lines), so
the demo prints coordinator ids and channels, never a phone number or an address.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator

LINK_SECRET_ENV = "LEADROUTER_DEMO_LINK_SECRET"
_ACK = re.compile(r"Acknowledge: (\S+)")


@dataclass
class Receivers:
    smtp: SmtpSink = field(default_factory=SmtpSink)
    slack: SlackReceiver = field(default_factory=SlackReceiver)
    twilio: TwilioEmulator = field(default_factory=TwilioEmulator)
    link_secret: str = field(default_factory=lambda: secrets.token_hex(16))

    def start(self) -> Receivers:
        for receiver in (self.smtp, self.slack, self.twilio):
            receiver.start()
        return self

    def stop(self) -> None:
        for receiver in (self.smtp, self.slack, self.twilio):
            receiver.stop()

    def placeholders(self) -> dict[str, str]:
        return {"@SMTP_PORT@": str(self.smtp.port), "@SMTP_CA@": self.smtp.ca_bundle,
                "@SLACK_CA@": self.slack.ca_bundle, "@TWILIO_BASE@": self.twilio.base_url,
                "@TWILIO_CA@": self.twilio.ca_bundle}

    def environ(self) -> dict[str, str]:
        return {"LEADROUTER_DEMO_SMTP_USERNAME": self.smtp.username,
                "LEADROUTER_DEMO_SMTP_PASSWORD": self.smtp.password,
                "LEADROUTER_DEMO_SLACK_URL": self.slack.url,
                "LEADROUTER_DEMO_TWILIO_SID": self.twilio.account_sid,
                "LEADROUTER_DEMO_TWILIO_TOKEN": self.twilio.auth_token,
                LINK_SECRET_ENV: self.link_secret}


class OnCallPerson(threading.Thread):
    """Opens the acknowledgement link of about two pages in three, a few seconds after the
    SMS arrives; the others go unanswered and climb the ladder."""

    def __init__(self, twilio: TwilioEmulator, stop: threading.Event, rng: random.Random,
                 say: Callable[[str], None]) -> None:
        super().__init__(name="demo-on-call", daemon=True)
        self.twilio, self.stop, self.rng, self.say = twilio, stop, rng, say
        self.seen = 0
        self.due: list[tuple[float, str]] = []  # (when, link)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.wait(0.5):
                self._tick(client)

    def _tick(self, client: httpx.Client) -> None:
        messages = self.twilio.messages
        for message in messages[self.seen:]:
            found = _ACK.search(str(message["body"]))
            if found and "On-call page" in str(message["body"]) and self.rng.random() < 0.67:
                self.due.append((time.monotonic() + self.rng.uniform(3, 10), found.group(1)))
        self.seen = len(messages)
        now = time.monotonic()
        for entry in [d for d in self.due if d[0] <= now]:
            self.due.remove(entry)
            try:
                answer = client.get(entry[1])
            except httpx.HTTPError:
                continue
            title = re.search(r"<h1>([^<]+)</h1>", answer.text)
            self.say(f"on-call person opened an acknowledgement link -> {answer.status_code} "
                     f"{title.group(1) if title else ''}")
