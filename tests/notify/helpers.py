"""Reading what the receivers got, and what the store says should have been sent."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator
from sync.context import Context
from sync.notify.messages import WHAT
from tests.notify.conftest import BY_ADDRESS, SLACK_USERS

KIND_OF = {text: kind for kind, text in WHAT.items()}
BY_SLACK = {user: ident for ident, user in SLACK_USERS.items()}
_FIRST = re.compile(r"^(?P<what>[^:]+): lead (?P<crm_id>\S+)$")
_MENTION = re.compile(r"^<@(?P<user>[A-Z0-9]+)> ")
Sent = tuple[str, str, str, str]  # channel, crm id, kind, coordinator


def _parsed(channel: str, text: str, coordinator: str) -> Sent:
    first = _FIRST.match(text.strip().splitlines()[0])
    assert first is not None, "unexpected first line"
    return channel, first["crm_id"], KIND_OF[first["what"]], coordinator


def received(smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator
             ) -> tuple[list[Sent], list[str]]:
    """Every message as (channel, crm id, kind, coordinator), and every text."""
    sent: list[Sent] = []
    texts: list[str] = []
    for mail in smtp.messages:
        body = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        texts.append(f"{mail['Subject']}\n{body}")
        sent.append(_parsed("email", body, BY_ADDRESS[str(mail["To"])]))
    for post in slack.messages:
        text = str(post["text"])
        texts.append(text)
        mention = _MENTION.match(text)
        assert mention is not None, "slack message without its mention"
        sent.append(_parsed("slack", text[mention.end():], BY_SLACK[mention["user"]]))
    for sms in twilio.messages:
        texts.append(str(sms["body"]))
        sent.append(_parsed("sms", str(sms["body"]), BY_ADDRESS[str(sms["to"])]))
    return sent, texts


def expected(ctx: Context, crm_ids: list[str], channels: tuple[str, ...]) -> Counter[Sent]:
    """One message per channel for every assignment event the store recorded."""
    want: Counter[Sent] = Counter()
    names = {"routed": "assigned", "reassigned": "reassigned",
             "escalated_final": "escalated"}
    with ctx.store.unit_of_work(read_only=True) as uow:
        for crm_id in crm_ids:
            for event in uow.events.for_lead(ctx.crm, crm_id):
                if event.event in names and event.coordinator:
                    for channel in channels:
                        want[(channel, crm_id, names[event.event], event.coordinator)] += 1
    return want


def phi_values(box: Any, crm_ids: list[str]) -> set[str]:
    """The seeded contacts' names, emails and phones (what must never be in a message)."""
    values: set[str] = set()
    for crm_id in crm_ids:
        props = box.contact(crm_id)["properties"]
        for name in ("firstname", "lastname", "email", "phone", "mobilephone"):
            value = str(props.get(name) or "").strip()
            if len(value) >= 3:
                values.add(value)
    return values
