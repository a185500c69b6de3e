"""An on-call night: the HubSpot sandbox, a Twilio emulator, a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import TwilioEmulator
from sync.config import parse_config
from sync.context import Context, build_context
from tests.notify.conftest import PHONES, sms_table, with_contacts
from tests.pipeline.conftest import config_text

ROTATION = ("maria", "li", "james")  # maria is on call this week; then li, then james
LINK_SECRET = "test-link-secret-0123456789abcdef"
PUBLIC_URL = "https://leads.sunrise.example"
BY_PHONE = {phone: ident for ident, phone in PHONES.items()}
_NIGHTS = f"""
[schedules.days]
timezone = "America/Phoenix"
hours = [{{ days = "mon-fri", start = "08:00", end = "18:00" }}]

[[on_call]]
name = "nights"
coordinators = {list(ROTATION)!r}
starts = 2026-11-23T00:00:00Z
period = "7d"
page = ["sms"]
ack_within = "10m"
""".replace("'", '"')


def on_call_text(box: HubSpotSandbox, twilio: TwilioEmulator, db: Path, *,
                 ack_within: str = "10m", notify: tuple[str, ...] = ()) -> str:
    """One daytime pool (Phoenix office hours) whose nights go to the `nights` rotation,
    paged by SMS; every coordinator has a phone; `notify` is their own channels."""
    text = with_contacts(config_text(box, db, single_pool=True, sla="30m"), notify)
    return nights(text, twilio, ack_within)


def nights(text: str, twilio: TwilioEmulator, ack_within: str = "10m") -> str:
    """A single-pool test config (either CRM) made an office-hours pool with the `nights`
    rotation paging by SMS, and signed acknowledgement links."""
    text = text.replace("\nteams = [", '\nschedule = "days"\nteams = [')
    text = text.replace('strategy = "round_robin"\n', 'strategy = "round_robin"\n'
                        'after_hours = "on_call"\non_call = "nights"\n')
    text = text.replace("[service]\n", f'[service]\npublic_url = "{PUBLIC_URL}"\n'
                        'link_secret_env = "LEADROUTER_LINK_SECRET"\n')
    return text + _NIGHTS.replace('"10m"', f'"{ack_within}"') + sms_table(twilio)


def on_call_environ(box: HubSpotSandbox, twilio: TwilioEmulator) -> dict[str, str]:
    return {"HUBSPOT_TOKEN": box.token, "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token, "LEADROUTER_LINK_SECRET": LINK_SECRET}




@pytest.fixture
def night(box: HubSpotSandbox, twilio: TwilioEmulator, tmp_path: Path
          ) -> Iterator[Callable[..., Context]]:
    """`night(clock, **options)`: a context whose time is `clock[0]`."""
    made: list[Context] = []

    def factory(clock: list[datetime], **options: object) -> Context:
        text = on_call_text(box, twilio, tmp_path / "state.db", **options)  # type: ignore[arg-type]
        ctx = build_context(parse_config(text), environ=on_call_environ(box, twilio),
                            clock=lambda: clock[0])
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def pages(twilio: TwilioEmulator) -> list[tuple[str, str]]:
    """(coordinator, body) of every SMS the emulator stored, oldest first."""
    return [(BY_PHONE[m["to"]], m["body"]) for m in twilio.messages]
