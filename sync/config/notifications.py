"""`[notifications]` and its channel tables, and each coordinator's contact points.

Validated like every table (problems by key and line); the channels a coordinator asks for in
`notify` must be configured and reachable (an address for email, a phone for sms). Secrets are
named by environment variable here and read when the service starts (`sync/notify`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from connectors.plugin import EnvName, ReadableFile, SettingsModel, shown, whole
from routing.models import Coordinator
from sync.config.reader import Problems

Event = Literal["assigned", "reassigned", "escalated", "on_call"]
CHANNELS = ("email", "slack", "sms")
EVENTS: tuple[Event, ...] = ("assigned", "reassigned", "escalated", "on_call")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_URL_FIELDS = {"crm_id"}


def e164(number: str) -> str:
    if number and not _E164.match(number):
        raise ValueError(f'{shown(number)} is not an E.164 phone number like "+16265550101"')
    return number


def _record_url(template: str) -> str:
    if not template:
        return template
    if not re.match(r"^https?://\S+$", template):
        raise ValueError(f"{shown(template)} must be an http(s) URL template")
    names = set(re.findall(r"{([^{}]*)}", template))
    if names - _URL_FIELDS:
        raise ValueError("may use only {crm_id}: lead details are PHI and stay out of links")
    return template


def _api_base(url: str) -> str:
    url = url.rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        raise ValueError(f'{shown(url)} must be a base URL like "https://api.twilio.com"')
    return url


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


Phone = Annotated[str, AfterValidator(e164)]
Channel = Literal["email", "slack", "sms"]


class EmailTable(SettingsModel):
    """`[notifications.email]`: an SMTP relay."""

    host: str
    port: Annotated[int, whole(1, 65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username_env: EnvName = ""
    password_env: EnvName = ""
    sender: str = Field(alias="from")
    ca_bundle: ReadableFile = ""

    @model_validator(mode="after")
    def _encrypted(self) -> EmailTable:
        if self.security == "none" and not is_loopback(self.host):
            raise ValueError('security = "none" is allowed only for a loopback host (a '
                             "local relay); use starttls or tls")
        if "@" not in self.sender:
            raise ValueError(f"from: {shown(self.sender)} is not an email address")
        return self


class SlackTable(SettingsModel):
    """`[notifications.slack]`: an incoming webhook (its URL is a secret)."""

    webhook_url_env: EnvName = "SLACK_WEBHOOK_URL"
    ca_bundle: ReadableFile = ""


class SmsTable(SettingsModel):
    """`[notifications.sms]`: Twilio Programmable Messaging."""

    account_sid_env: EnvName = "TWILIO_ACCOUNT_SID"
    auth_token_env: EnvName = "TWILIO_AUTH_TOKEN"
    sender: Phone = Field(alias="from")
    api_base: Annotated[str, AfterValidator(_api_base)] = "https://api.twilio.com"
    ca_bundle: ReadableFile = ""


class NotificationsTable(SettingsModel):
    events: tuple[Event, ...] = EVENTS
    record_url: Annotated[str, AfterValidator(_record_url)] = ""
    email: Any = None
    slack: Any = None
    sms: Any = None


@dataclass(frozen=True, slots=True)
class Contact:
    """Where one coordinator is told, and the time zone their deadlines are shown in."""

    email: str | None
    phone: str | None
    slack_user: str | None
    notify: tuple[str, ...]
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Paging:
    """An on-call rotation's paging: channels on top of the person's `notify`, and how long
    a page may go unacknowledged (None: no ladder)."""

    page: tuple[str, ...] = ()
    ack_within: timedelta | None = None


@dataclass(frozen=True)
class NotificationsConfig:
    events: frozenset[str] = frozenset(EVENTS)
    record_url: str = ""
    email: EmailTable | None = None
    slack: SlackTable | None = None
    sms: SmsTable | None = None
    contacts: Mapping[str, Contact] = field(default_factory=lambda: MappingProxyType({}))
    paging: Mapping[str, Paging] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def channels(self) -> frozenset[str]:
        """The configured channels."""
        return frozenset(c for c in CHANNELS if getattr(self, c) is not None)


def build_notifications(problems: Problems, data: Mapping[str, Any],
                        coordinators: Mapping[str, Coordinator]) -> NotificationsConfig:
    """The validated `[notifications]` tables and every coordinator's contact points."""
    raw = data.get("notifications", {})
    table = problems.validate(NotificationsTable, raw, "notifications")
    channels: dict[str, Any] = {}
    for name, model in (("email", EmailTable), ("slack", SlackTable), ("sms", SmsTable)):
        section = getattr(table, name) if table is not None else None
        if section is not None:
            channels[name] = problems.validate(model, section, f"notifications.{name}")
    contacts = _contacts(problems, data, coordinators, set(channels))
    return NotificationsConfig(
        frozenset(table.events) if table is not None else frozenset(EVENTS),
        table.record_url if table is not None else "", channels.get("email"),
        channels.get("slack"), channels.get("sms"), MappingProxyType(contacts),
        MappingProxyType(_paging(problems, data, contacts, set(channels))))


def _paging(problems: Problems, data: Mapping[str, Any], contacts: Mapping[str, Contact],
            configured: set[str]) -> dict[str, Paging]:
    """Each `[[on_call]]` rotation's `page` and `ack_within`; the rotation's own table is
    validated (and its problems reported) with the rulebook, so invalid ones are left out."""
    from sync.config.sections import OnCallTable

    items = data.get("on_call")
    paging: dict[str, Paging] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        try:
            table = OnCallTable.model_validate(item)
        except ValidationError:
            continue
        path = f"on_call[{i}].page"
        for channel in table.page:
            if channel not in configured:
                problems.add(path, f'"{channel}" needs a [notifications.{channel}] table')
                continue
            for member in table.coordinators:
                contact = contacts.get(member)
                if contact is None or not _reachable(contact, channel):
                    problems.add(path, f'coordinator "{member}" has no {_POINT[channel]} to '
                                       f"be paged by {channel}")
        paging[table.name] = Paging(tuple(dict.fromkeys(table.page)), table.ack_within)
    return paging


_POINT = {"email": "email", "sms": "phone", "slack": "webhook"}


def _reachable(contact: Contact, channel: str) -> bool:
    """A Slack message goes to the webhook's channel, so everyone can be paged there."""
    return {"email": contact.email, "sms": contact.phone}.get(channel, "slack") is not None


def _contacts(problems: Problems, data: Mapping[str, Any],
              coordinators: Mapping[str, Coordinator], configured: set[str]
              ) -> dict[str, Contact]:
    items = data.get("coordinators")
    contacts: dict[str, Contact] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        path = f"coordinators[{i}]"
        notify = item.get("notify") or []
        if not isinstance(notify, list):
            continue  # the coordinator's own table reports the type
        for channel in notify:
            if channel in CHANNELS and channel not in configured:
                problems.add(f"{path}.notify", f'"{channel}" needs a [notifications.'
                                               f"{channel}] table")
        if "sms" in notify and not item.get("phone"):
            problems.add(f"{path}.notify", '"sms" needs phone = "+1..." (E.164)')
        if "email" in notify and not item.get("email"):
            problems.add(f"{path}.notify", '"email" needs email = "..."')
        known = coordinators.get(item["id"])
        zone = known.schedule.timezone if known is not None and known.schedule else "UTC"
        contacts[item["id"]] = Contact(
            str(item.get("email") or "") or None, str(item.get("phone") or "") or None,
            str(item.get("slack_user") or "") or None,
            tuple(str(c) for c in notify if c in CHANNELS), zone)
    return contacts
