"""The validated configuration: frozen, typed, built only by `sync.config.load_config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from routing.models import Rulebook, frozen_map


@dataclass(frozen=True)
class ServiceConfig:
    state_url: str = "sqlite:///leadrouter.db"
    backfill: timedelta = timedelta(hours=24)
    poll_interval: timedelta = timedelta(seconds=30)
    escalation_interval: timedelta = timedelta(minutes=1)
    apply_interval: timedelta = timedelta(seconds=5)
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    webhook_max_bytes: int = 1_048_576
    log_format: str = "auto"  # auto | json | console


@dataclass(frozen=True)
class HubSpotConfig:
    base_url: str = "https://api.hubapi.com"
    token_env: str = "HUBSPOT_TOKEN"
    webhook_secret_env: str = "HUBSPOT_CLIENT_SECRET"
    ca_bundle: str = ""
    placeholder_owners: tuple[str, ...] = ()
    # property -> accepted values; a contact must match all of them to be routed
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    # routing metadata written back: rule / routed_at / sla_due -> CRM property name
    metadata_properties: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    requests_per_10s: int = 190
    searches_per_second: int = 5
    poll_overlap: timedelta = timedelta(minutes=2)
    timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class SalesforceConfig:
    instance_url: str = "https://example.my.salesforce.com"
    token_env: str = "SALESFORCE_ACCESS_TOKEN"
    object: str = "Lead"
    ca_bundle: str = ""
    auth: str = "token"  # token | jwt | client_credentials
    api_version: str = "59.0"
    username: str = ""
    consumer_key_env: str = ""
    client_secret_env: str = ""
    private_key_file: str = ""
    login_url: str = "https://login.salesforce.com"
    organization_id: str = ""
    placeholder_owners: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    metadata_fields: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    api_reserve: int = 1000  # stop non-essential calls when fewer daily calls remain
    poll_overlap: timedelta = timedelta(minutes=2)
    timeout: timedelta = timedelta(seconds=30)


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
