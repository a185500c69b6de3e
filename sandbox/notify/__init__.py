"""Loopback receivers for leadrouter's notifications: an SMTP sink, a Slack incoming-webhook
receiver and a Twilio Messages API emulator, each a context manager on 127.0.0.1 with a
throw-away CA (``ca_bundle``), a thread-safe ``messages`` snapshot, ``fail_next`` and
``wait_for``.

Only tests use these today. ``SmtpSink`` imports aiosmtpd (a test dependency) when it
starts, so importing this package needs nothing beyond leadrouter's runtime dependencies.
"""

from __future__ import annotations

from .slack import SlackReceiver
from .smtp import SmtpSink
from .twilio_api import TwilioEmulator

__all__ = ["SlackReceiver", "SmtpSink", "TwilioEmulator"]
