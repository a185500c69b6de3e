"""SIGKILL while a message is in flight: nothing is lost; only unaskable channels repeat.

Each kill lands in the worst window: the receiver has kept the message and holds its answer,
so the killed worker never learns it was delivered. Twilio can be asked (the attempt was
counted before the send, so the next try looks first): no SMS is ever doubled. SMTP and a
Slack webhook cannot be asked, so such a message is sent again: at most one extra copy per
kill, and only on those channels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator
from sync.config import parse_config
from sync.context import build_context
from tests.notify.conftest import notifications_text, with_contacts
from tests.notify.helpers import expected, received
from tests.pipeline.conftest import config_text, seed

REPO = Path(__file__).resolve().parents[2]
ALL = ("email", "slack", "sms")
HOLD = 0.6  # seconds each receiver keeps a message before answering


def _command(config: Path) -> list[str]:
    return [sys.executable, "-m", "sync", "--config", str(config), "sync", "--once"]


def _once(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_command(config), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _kill_when_kept(proc: subprocess.Popen[bytes], receiver: SmtpSink | SlackReceiver |
                    TwilioEmulator, timeout: float = 30.0) -> bool:
    """SIGKILL `proc` as soon as `receiver` keeps one more message (its answer held)."""
    before = len(receiver.messages)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len(receiver.messages) > before:
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    return False


def test_sigkills_mid_send_lose_nothing_and_never_double_an_sms(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        tmp_path: Path) -> None:
    ids = seed(box, 8, seed_value=21)
    text = with_contacts(config_text(box, tmp_path / "state.db",
                                     extra_service='claim_lease = "1s"'), ALL)
    config = tmp_path / "leadrouter.toml"
    config.write_text(text + notifications_text(smtp, slack, twilio, ALL))
    secrets = {"HUBSPOT_TOKEN": box.token, "SMTP_USERNAME": smtp.username,
               "SMTP_PASSWORD": smtp.password, "SLACK_WEBHOOK_URL": slack.url,
               "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token}
    env = {**os.environ, **secrets}
    receivers: dict[str, SmtpSink | SlackReceiver | TwilioEmulator] = {
        "email": smtp, "slack": slack, "sms": twilio}
    for receiver in receivers.values():
        receiver.hold_answers(HOLD)

    kills: Counter[str] = Counter()
    for channel in ("sms", "email", "sms", "slack", "sms", "email"):
        if _kill_when_kept(_once(config, env), receivers[channel]):
            kills[channel] += 1
        time.sleep(1.2)  # the killed worker's claims run out (claim_lease = 1s)
    assert sum(kills.values()) >= 5, f"only {dict(kills)} kills landed mid-send"

    for receiver in receivers.values():
        receiver.hold_answers(0)
    for _ in range(2):  # the survivors finish; a second run finds nothing left
        assert subprocess.run(_command(config), cwd=REPO, env=env, capture_output=True,
                              timeout=120).returncode == 0

    ctx = build_context(parse_config(config.read_text()), environ=secrets)
    try:
        want = expected(ctx, ids, ALL)
    finally:
        ctx.close()
    got = Counter(received(smtp, slack, twilio)[0])
    assert not want - got, "a message was lost"
    extra = got - want
    assert not extra.keys() - want.keys(), "a message nobody should get was sent"
    by_channel = Counter(channel for channel, *_ in extra.elements())
    assert by_channel["sms"] == 0, "an SMS was sent twice"
    assert by_channel["email"] <= kills["email"] and by_channel["slack"] <= kills["slack"]
