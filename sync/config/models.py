"""The validated configuration: frozen, typed, built only by `sync.config.load_config`.

`ServiceConfig` and `EscalationConfig` are the pydantic models their tables are validated
with; the CRM's table is validated by the selected connector plugin's own settings model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

from connectors.plugin import (
    DAY,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    EnvName,
    ReadableFile,
    SettingsModel,
    describe,
    shown,
    span,
    whole,
)
from routing.models import Rulebook
from state.tables import DEFAULT_PORTAL
from sync.config.intake import EmailIntake
from sync.config.notifications import NotificationsConfig

__all__ = ["Config", "EscalationConfig", "IPNetwork", "ServiceConfig"]

IPNetwork = IPv4Network | IPv6Network
MAX_WEBHOOK_BYTES = 16 * 1024 * 1024
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


def _state_url(url: str) -> str:
    if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", url):
        raise ValueError('must start with "sqlite:///" or "postgresql+psycopg://"')
    return url


def _listen(value: object) -> object:
    """`"HOST:PORT"` -> (host, port); an IPv6 host is written in brackets."""
    if isinstance(value, tuple):  # the default, or from code
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {describe(value)}")
    match = _LISTEN.match(value)
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(f'{shown(value)} is not HOST:PORT like "127.0.0.1:8080"')
    return match["host"].strip("[]"), int(match["port"])


def _network(value: object) -> object:
    """CIDR notation; a bare address is a /32 or /128."""
    if not isinstance(value, str):
        return value
    try:
        return ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f'"{value[:60]}" is not a network like "13.108.0.0/14" or an IP '
                         "address") from None


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    if url and not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        raise ValueError(f'{shown(url)} must be a base URL like "https://leads.example.org" '
                         "(no query)")
    return url


Network = Annotated[IPNetwork, BeforeValidator(_network)]


class ServiceConfig(SettingsModel):
    """`[service]`; bounds documented in config.example.toml."""

    state_url: Annotated[str, AfterValidator(_state_url)] = "sqlite:///leadrouter.db"
    backfill: Annotated[timedelta, span(HOUR, 90 * DAY)] = timedelta(hours=24)
    poll_interval: Annotated[timedelta, span(SECOND, DAY)] = timedelta(seconds=30)
    escalation_interval: Annotated[timedelta, span(100 * MS, DAY)] = timedelta(minutes=1)
    apply_interval: Annotated[timedelta, span(100 * MS, HOUR)] = timedelta(seconds=5)
    # how often the CRM's availability statuses are read (and ended away marks noticed)
    availability_interval: Annotated[timedelta, span(SECOND, DAY)] = timedelta(minutes=1)
    # how long a worker holds outbox rows it took; a crashed worker's rows come back after it
    claim_lease: Annotated[timedelta, span(SECOND, DAY)] = timedelta(minutes=2)
    listen: Annotated[tuple[str, int], BeforeValidator(_listen)] = ("127.0.0.1", 8080)
    webhook_max_bytes: Annotated[int, whole(1024, MAX_WEBHOOK_BYTES)] = 1_048_576
    log_format: Literal["auto", "json", "console"] = "auto"
    # the public base URL the CRM calls (behind a proxy); "" = rebuilt from each request
    public_url: Annotated[str, AfterValidator(_base_url)] = ""
    # -- HTTP intake limits and defences (config.example.toml explains each) --
    webhook_rate: Annotated[int, whole(1, 1_000_000)] = 600  # events per minute, per source
    webhook_allow: tuple[Network, ...] = ()  # source networks of webhooks; () = any
    # peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the TLS proxy)
    trusted_proxies: tuple[Network, ...] = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    tls_cert: ReadableFile = ""  # serve HTTPS directly (PEM files); "" = plain HTTP
    tls_key: ReadableFile = ""
    # open HTTP connections (also kept below the open-file limit)
    max_connections: Annotated[int, whole(8, 100_000)] = 256
    header_timeout: Annotated[timedelta, span(SECOND, 5 * MINUTE)] = timedelta(seconds=10)
    body_timeout: Annotated[timedelta, span(SECOND, HOUR)] = timedelta(seconds=30)
    # the variable holding the dashboard's Basic-auth password; "" = loopback clients only
    dashboard_password_env: EnvName = ""
    # a directory (relative to this file) with one `<portal id>.toml` per CRM portal; "" = this
    # file is the one portal ("default")
    portals: str = ""
    # the variable holding the key that signs acknowledgement links (`/ack/{token}`);
    # "" = messages carry no acknowledgement link
    link_secret_env: EnvName = ""

    @property
    def listen_host(self) -> str:
        return self.listen[0]

    @property
    def listen_port(self) -> int:
        return self.listen[1]


class EscalationConfig(SettingsModel):
    max_reassignments: Annotated[int, whole(0, 20)] = 2
    final_owner: Annotated[str | None, AfterValidator(lambda v: v or None)] = None


@dataclass(frozen=True)
class Config:
    source: Path | None
    service: ServiceConfig
    crm_kind: str
    # the selected connector plugin's validated `[crm.<kind>]` settings (its settings_model)
    crm_settings: Any
    # lead attribute -> CRM property / field name
    fields: Mapping[str, str]
    rulebook: Rulebook
    escalation: EscalationConfig
    zip_attribute: str = "zip"
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    intake: EmailIntake | None = None  # [intake.email]: email-delivered leads
    # the portal (CRM connection) this is: its file name without `.toml`, else "default"
    portal: str = DEFAULT_PORTAL


