"""`[crm.hubspot]`: the HubSpot connector's settings, validated from the config file."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from connectors.plugin import (
    HOUR,
    MINUTE,
    SECOND,
    ZERO,
    EnvName,
    HttpsUrl,
    MetadataNames,
    PropertyFilters,
    ReadableFile,
    RequiredEnvName,
    SettingsModel,
    span,
    whole,
)


class HubSpotConfig(SettingsModel):
    base_url: HttpsUrl = "https://api.hubapi.com"
    token_env: RequiredEnvName = "HUBSPOT_TOKEN"
    webhook_secret_env: EnvName = "HUBSPOT_CLIENT_SECRET"
    ca_bundle: ReadableFile = ""
    placeholder_owners: tuple[str, ...] = ()
    filters: PropertyFilters = Field(default_factory=dict)
    metadata_properties: MetadataNames = Field(default_factory=dict)
    requests_per_10s: Annotated[int, whole(1, 1000)] = 190
    searches_per_second: Annotated[int, whole(1, 50)] = 5
    poll_overlap: Annotated[timedelta, span(ZERO, HOUR)] = timedelta(minutes=2)
    timeout: Annotated[timedelta, span(SECOND, 10 * MINUTE)] = timedelta(seconds=30)
    # read users' `hs_availability_status` (Users API): "away" makes a coordinator ineligible
    availability: bool = False

