"""`[notifications]` and the coordinators' contact keys: mistakes named by key and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.config import ConfigError, parse_config
from sync.context import StartupError, build_channels

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text()
MARIA = 'id = "maria"\n'
NOTIFICATIONS = """
[notifications]
record_url = "https://crm.example/contacts/{crm_id}"

[notifications.email]
host = "smtp.example.org"
from = "leadrouter@sunrise.example"

[notifications.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"
"""
SMS = '[notifications.sms]\nfrom = "+15555550100"\n'


def configured(contact: str, notifications: str = NOTIFICATIONS) -> str:
    assert MARIA in EXAMPLE
    return EXAMPLE.replace(MARIA, MARIA + contact, 1) + notifications


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def test_a_complete_setup_is_read() -> None:
    config = parse_config(configured('email = "m@staff.example"\nphone = "+16265550101"\n'
                                     'slack_user = "U1"\nnotify = ["email", "slack"]\n'))
    n = config.notifications
    assert n.channels == {"email", "slack"}
    assert n.events == {"assigned", "reassigned", "escalated", "on_call"}
    assert n.email is not None and n.email.port == 587 and n.email.security == "starttls"
    maria = n.contacts["maria"]
    assert maria.notify == ("email", "slack") and maria.phone == "+16265550101"
    assert maria.timezone == "America/Los_Angeles"  # her schedule's


CASES = [
    ("sms-without-phone", configured('notify = ["slack", "sms"]\n', NOTIFICATIONS + SMS),
     r'^coordinators\[0\]\.notify: "sms" needs phone = "\+1\.\.\." \(E\.164\) \(line \d+\)$'),
    ("channel-not-configured", configured('phone = "+16265550101"\nnotify = ["sms"]\n'),
     r'^coordinators\[0\]\.notify: "sms" needs a \[notifications\.sms\] table'),
    ("unknown-channel", configured('notify = ["pager"]\n'),
     r'^coordinators\[0\]\.notify\[0\]: "pager" is not one of'),
    ("phone-not-e164", configured('phone = "626-555-0101"\n'),
     r'^coordinators\[0\]\.phone: "626-555-0101" is not an E\.164 phone number'),
    ("plain-smtp-to-a-remote-relay", configured("", NOTIFICATIONS.replace(
        'host = "smtp.example.org"\n', 'host = "smtp.example.org"\nsecurity = "none"\n')),
     r'^notifications\.email: .*security = "none" is allowed only for a loopback host'),
    ("unknown-event", configured("", NOTIFICATIONS.replace(
        "[notifications]\n", '[notifications]\nevents = ["assigned", "paged"]\n')),
     r'^notifications\.events\[1\]: "paged" is not one of'),
    ("lead-detail-in-link", configured("", NOTIFICATIONS.replace("{crm_id}", "{email}")),
     r"^notifications\.record_url: may use only \{crm_id\}"),
    ("secret-pasted", configured("", NOTIFICATIONS.replace(
        '"SLACK_WEBHOOK_URL"', '"https://hooks.slack.com/services/T0/B0/x"')),
     r"^notifications\.slack\.webhook_url_env: must be the NAME of an environment"),
    ("sms-from-not-e164", configured("", NOTIFICATIONS + '[notifications.sms]\nfrom = "555"\n'),
     r'^notifications\.sms\.from: "555" is not an E\.164'),
]


@pytest.mark.parametrize(("text", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_named_by_key(text: str, pattern: str) -> None:
    problems = problems_of(text)
    assert any(re.search(pattern, p) for p in problems), problems


def test_loopback_relays_may_go_unencrypted() -> None:
    text = configured('email = "m@staff.example"\nnotify = ["email"]\n', NOTIFICATIONS.replace(
        'host = "smtp.example.org"\n', 'host = "127.0.0.1"\nsecurity = "none"\n'))
    assert parse_config(text).notifications.email is not None


def test_a_missing_secret_stops_the_start_naming_the_variable() -> None:
    config = parse_config(configured('notify = ["slack"]\n'))
    with pytest.raises(StartupError, match="SLACK_WEBHOOK_URL is not set"):
        build_channels(config, {})
    assert set(build_channels(config, {"SLACK_WEBHOOK_URL": "https://hooks.example/x"})) \
        == {"email", "slack"}
