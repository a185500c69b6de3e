"""Notifications through the real pipeline: the HubSpot sandbox plus the notify receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator
from sync.config import parse_config
from sync.context import Context, build_context
from tests.pipeline.conftest import COORDINATORS, config_text

PHONES = {ident: f"+1626555{100 + n:04d}" for n, ident in enumerate(COORDINATORS)}
EMAILS = {ident: f"{ident}@staff.sunrise.example" for ident in COORDINATORS}
SLACK_USERS = {ident: f"U{ident.upper()}01" for ident in COORDINATORS}
BY_ADDRESS = {**{v: k for k, v in PHONES.items()}, **{v: k for k, v in EMAILS.items()}}



@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver



def sms_table(twilio: TwilioEmulator) -> str:
    return f"""
[notifications.sms]
account_sid_env = "TWILIO_ACCOUNT_SID"
auth_token_env = "TWILIO_AUTH_TOKEN"
from = "+15555550100"
api_base = "{twilio.base_url}"
ca_bundle = "{twilio.ca_bundle}"
"""


def notifications_text(smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
                       channels: tuple[str, ...]) -> str:
    return f"""
[notifications]
record_url = "https://crm.example/contacts/{{crm_id}}"

[notifications.email]
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
username_env = "SMTP_USERNAME"
password_env = "SMTP_PASSWORD"
from = "leadrouter@sunrise.example"
ca_bundle = "{smtp.ca_bundle}"

[notifications.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"
ca_bundle = "{slack.ca_bundle}"
{sms_table(twilio)}""" if channels else ""


def with_contacts(text: str, channels: tuple[str, ...]) -> str:
    """The pipeline tests' config with every coordinator reachable on `channels`."""
    for ident, (owner, _) in COORDINATORS.items():
        text = text.replace(
            f'id = "{ident}"\ncrm_owner_id = "{owner}"\n',
            f'id = "{ident}"\ncrm_owner_id = "{owner}"\nemail = "{EMAILS[ident]}"\n'
            f'phone = "{PHONES[ident]}"\nslack_user = "{SLACK_USERS[ident]}"\n'
            f"notify = {list(channels)!r}\n".replace("'", '"'))
    return text


@pytest.fixture
def notify_context(box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver,
                   twilio: TwilioEmulator, tmp_path: Path
                   ) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def factory(channels: tuple[str, ...] = ("email", "slack", "sms"),
                events: tuple[str, ...] | None = None, **options: Any) -> Context:
        text = with_contacts(config_text(box, tmp_path / "state.db", **options), channels)
        text += notifications_text(smtp, slack, twilio, channels)
        if events is not None:
            text = text.replace("[notifications]\n", "[notifications]\nevents = "
                                f"{list(events)!r}\n".replace("'", '"'))
        (tmp_path / "leadrouter.toml").write_text(text)
        environ = {"HUBSPOT_TOKEN": box.token, "SMTP_USERNAME": smtp.username,
                   "SMTP_PASSWORD": smtp.password, "SLACK_WEBHOOK_URL": slack.url,
                   "TWILIO_ACCOUNT_SID": twilio.account_sid,
                   "TWILIO_AUTH_TOKEN": twilio.auth_token}
        ctx = build_context(parse_config(text), environ=environ)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()
