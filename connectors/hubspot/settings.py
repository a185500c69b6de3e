"""`[crm.hubspot]`: the HubSpot connector's settings, validated from the config file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

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


def _digits_as_text(value: object) -> object:
    """`portal_id = 62515` (a TOML integer) means the same as `"62515"`."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _hub_id(value: str) -> str:
    if value and not re.fullmatch(r"[0-9]{1,19}", value):
        raise ValueError(f'"{value[:40]}" is not a HubSpot Hub ID (digits, like "62515")')
    return value


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
    # an owner the poll read this recently stands for "the owner now" in the compare before
    # an owner write (no second read); older reads are repeated. 0s: always read again
    owner_read_max_age: Annotated[timedelta, span(ZERO, MINUTE)] = timedelta(seconds=15)
    timeout: Annotated[timedelta, span(SECOND, 10 * MINUTE)] = timedelta(seconds=30)
    # read users' `hs_availability_status` (Users API): "away" makes a coordinator ineligible
    availability: bool = False
    # the HubSpot account (Hub ID) this connection is: webhook events carry it as `portalId`;
    # with several portals it sends each event to its portal ("" = any: one portal only)
    portal_id: Annotated[str, BeforeValidator(_digits_as_text), AfterValidator(_hub_id)] = ""

    ACCOUNT_KEY: ClassVar[str] = "portal_id"  # the key naming the account (config errors)

    @property
    def account(self) -> str:
        """The CRM account webhooks name (the Hub ID); "" when not configured."""
        return self.portal_id

