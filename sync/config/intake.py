"""`[intake.email]` and its `[[intake.email.formats]]`: email-delivered leads (CONTRACTS Part 4).

Validated like every table (problems by key and line). Secrets are named by environment
variable and read when the mailbox is opened (`sync/intake/mailbox.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from connectors.plugin import (
    HOUR,
    MINUTE,
    SECOND,
    EnvName,
    ReadableFile,
    SettingsModel,
    shown,
    span,
    whole,
)
from sync.config.notifications import is_loopback
from sync.config.reader import Problems

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
_FOLDER = re.compile(r"^[^\x00-\x1f\"\\*%]{1,200}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{shown(value)} is not a name of letters, digits, _ . - (64 at most)")
    return value


def _sender(value: str) -> str:
    """A whole address, or "@domain" for every sender of a domain; lower-cased."""
    text = value.strip().lower()
    _, at, domain = text.rpartition("@")
    if not at or not domain or "." not in domain or " " in text:
        raise ValueError(f'{shown(value)} is not an address or "@domain"')
    return text


def _folder(value: str) -> str:
    if not _FOLDER.match(value):
        raise ValueError(f"{shown(value)} is not a folder name (no quotes, backslashes, * or %)")
    return value


Folder = Annotated[str, AfterValidator(_folder)]


def _ref(name: str) -> str:
    if name and not _PROPERTY.match(name):
        raise ValueError(f"{shown(name)} is not a CRM property name")
    return name


class FormatTable(SettingsModel):
    """`[[intake.email.formats]]`: which messages it takes and where their labels go."""

    name: Annotated[str, AfterValidator(_name)]
    sender: tuple[Annotated[str, AfterValidator(_sender)], ...] = Field(alias="from")
    subject: str = ""  # the subject must contain this (case-insensitive); "" = any
    source: str = ""  # written to the CRM property `[fields] source` names
    fields: dict[str, str]  # CRM property -> the label used in the email

    @model_validator(mode="after")
    def _usable(self) -> FormatTable:
        if not self.sender:
            raise ValueError("from: name at least one sender address or \"@domain\"")
        if not self.fields:
            raise ValueError("fields: map at least an email or a phone property to its label")
        for prop, label in self.fields.items():
            if not _PROPERTY.match(prop):
                raise ValueError(f"fields: {shown(prop)} is not a CRM property name")
            if not label.strip():
                raise ValueError(f"fields.{prop}: the label may not be empty")
        if not any(is_email(p) or is_phone(p) for p in self.fields):
            raise ValueError("fields: map an email or a phone property (a lead needs one)")
        return self


class EmailTable(SettingsModel):
    """`[intake.email]`: the mailbox (IMAP) and its folders."""

    host: str
    port: Annotated[int, whole(1, 65535)] = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    # "password": LOGIN with the two variables below; "xoauth2": SASL XOAUTH2 with an OAuth 2.0
    # access token for the user in username_env (Microsoft 365, Google Workspace)
    auth: Literal["password", "xoauth2"] = "password"
    username_env: EnvName = "INTAKE_IMAP_USERNAME"
    password_env: EnvName = "INTAKE_IMAP_PASSWORD"
    # xoauth2: where the access token comes from (one of three, see config.example.toml)
    oauth_token_url: str = ""  # client credentials (Microsoft) or JWT bearer (Google)
    oauth_client_id_env: EnvName = ""
    oauth_client_secret_env: EnvName = ""
    oauth_scope: str = "https://outlook.office365.com/.default"
    oauth_service_account_file: ReadableFile = ""  # Google: a service account's JSON key
    oauth_token_env: EnvName = ""  # a token something else keeps fresh
    oauth_ca_bundle: ReadableFile = ""  # CA file for the token endpoint; "" = the system's
    folder: Folder = "INBOX"
    processed_folder: Folder = "leadrouter-processed"
    review_folder: Folder = "leadrouter-review"
    poll_interval: Annotated[timedelta, span(SECOND, HOUR)] = timedelta(seconds=30)
    ca_bundle: ReadableFile = ""
    timeout: Annotated[timedelta, span(SECOND, 10 * MINUTE)] = timedelta(seconds=30)
    batch: Annotated[int, whole(1, 5000)] = 200  # messages read per poll (the rest wait)
    # a CRM property an admin added (HubSpot: unique values; Salesforce: an External ID
    # field) that records leadrouter creates carry the message's key in, so a create whose
    # answer was lost is found by it at once, also for a lead with a phone and no email
    ref_property: Annotated[str, AfterValidator(_ref)] = ""
    formats: Any = None  # validated one by one (FormatTable)

    @model_validator(mode="after")
    def _safe(self) -> EmailTable:
        if self.security == "none" and not is_loopback(self.host):
            raise ValueError('security = "none" is allowed only for a loopback host; use '
                             "tls or starttls")
        if self.auth == "xoauth2":
            client = bool(self.oauth_token_url and self.oauth_client_id_env
                          and self.oauth_client_secret_env)
            if not (client or self.oauth_service_account_file or self.oauth_token_env):
                raise ValueError('auth = "xoauth2" needs oauth_token_url with '
                                 "oauth_client_id_env and oauth_client_secret_env (Microsoft "
                                 "365), oauth_service_account_file (Google Workspace) or "
                                 "oauth_token_env")
            if self.oauth_token_url and not re.match(r"^https://\S+$", self.oauth_token_url):
                raise ValueError("oauth_token_url must be an https:// URL")
        folders = [self.folder, self.processed_folder, self.review_folder]
        if len({f.lower() for f in folders}) != 3:
            raise ValueError("folder, processed_folder and review_folder must differ")
        return self


class IntakeTable(SettingsModel):
    email: Any = None


@dataclass(frozen=True)
class EmailFormat:
    name: str
    senders: tuple[str, ...]
    subject: str
    source: str
    fields: Mapping[str, str]  # CRM property -> label


@dataclass(frozen=True)
class EmailIntake:
    mailbox: EmailTable
    formats: tuple[EmailFormat, ...]
    source_property: str | None  # the CRM property `[fields] source` names

    @property
    def poll_interval(self) -> timedelta:
        return self.mailbox.poll_interval


def is_email(prop: str) -> bool:
    return prop.lower() in ("email", "work_email", "hs_additional_emails") or \
        prop.lower().endswith("email")


def is_phone(prop: str) -> bool:
    return "phone" in prop.lower()


def build_intake(problems: Problems, data: Mapping[str, Any],
                 fields: Mapping[str, str]) -> EmailIntake | None:
    """The validated `[intake.email]`, None when there is none."""
    raw = data.get("intake")
    if raw is None:
        return None
    table = problems.validate(IntakeTable, raw, "intake")
    if table is None or table.email is None:
        return None
    mailbox = problems.validate(EmailTable, table.email, "intake.email")
    raw_formats = table.email.get("formats") if isinstance(table.email, dict) else None
    formats: list[EmailFormat] = []
    if raw_formats is None:
        problems.add("intake.email.formats", "add at least one [[intake.email.formats]]")
    elif not isinstance(raw_formats, list):
        problems.add("intake.email.formats", "must be an array of tables "
                                             "([[intake.email.formats]])")
    else:
        seen: set[str] = set()
        for i, item in enumerate(raw_formats):
            path = f"intake.email.formats[{i}]"
            fmt = problems.validate(FormatTable, item, path)
            if fmt is None:
                continue
            if fmt.name in seen:
                problems.add(f"{path}.name", f'"{fmt.name}" is used by an earlier format')
            seen.add(fmt.name)
            if fmt.source and "source" not in fields:
                problems.add(f"{path}.source", "needs [fields] source naming the CRM "
                                                "property the source is written to")
            formats.append(EmailFormat(fmt.name, fmt.sender, fmt.subject.strip().lower(),
                                       fmt.source, dict(fmt.fields)))
    if mailbox is None:
        return None
    return EmailIntake(mailbox, tuple(formats), fields.get("source"))
