"""Settings of the CRM connectors, as validated from the `[crm.*]` config tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from routing.models import frozen_map


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
    # Outbound Message defences (used by the service's HTTP side, not the connector):
    # the env var holding a secret path segment, and a CA file for client certificates
    outbound_path_secret_env: str = ""
    outbound_client_ca: str = ""
