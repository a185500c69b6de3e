"""The validated configuration: frozen, typed, built only by `sync.config.load_config`."""

# The connector settings live with the connectors (which must not import sync);
# they are re-exported here because the config file is where they come from.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

__all__ = ["Config", "EscalationConfig", "HubSpotConfig", "SalesforceConfig", "ServiceConfig"]

from connectors.settings import HubSpotConfig, SalesforceConfig
from routing.models import Rulebook

IPNetwork = IPv4Network | IPv6Network


@dataclass(frozen=True)
class ServiceConfig:
    state_url: str = "sqlite:///leadrouter.db"
    backfill: timedelta = timedelta(hours=24)
    poll_interval: timedelta = timedelta(seconds=30)
    escalation_interval: timedelta = timedelta(minutes=1)
    apply_interval: timedelta = timedelta(seconds=5)
    # how long a worker holds outbox rows it took; a crashed worker's rows come back after it
    claim_lease: timedelta = timedelta(minutes=2)
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    webhook_max_bytes: int = 1_048_576
    log_format: str = "auto"  # auto | json | console
    # the public base URL HubSpot calls (behind a proxy); "" = rebuilt from each request
    public_url: str = ""
    # -- HTTP intake limits and defences (config.example.toml explains each) --
    webhook_rate: int = 600  # webhook events stored per minute, per source (429 beyond)
    webhook_allow: tuple[IPNetwork, ...] = ()  # source networks of webhooks; () = any
    # peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the TLS proxy)
    trusted_proxies: tuple[IPNetwork, ...] = (ip_network("127.0.0.1/32"),
                                              ip_network("::1/128"))
    tls_cert: str = ""  # serve HTTPS directly (PEM files); "" = plain HTTP
    tls_key: str = ""
    max_connections: int = 256  # open HTTP connections (also kept below the open-file limit)
    header_timeout: timedelta = timedelta(seconds=10)  # to receive a request's head
    body_timeout: timedelta = timedelta(seconds=30)  # to receive its body, once the head is in


@dataclass(frozen=True)
class EscalationConfig:
    max_reassignments: int = 2
    final_owner: str | None = None


@dataclass(frozen=True)
class Config:
    source: Path | None
    service: ServiceConfig
    crm_kind: str
    hubspot: HubSpotConfig | None
    salesforce: SalesforceConfig | None
    # lead attribute -> CRM property / field name
    fields: Mapping[str, str]
    rulebook: Rulebook
    escalation: EscalationConfig
    zip_attribute: str = "zip"
