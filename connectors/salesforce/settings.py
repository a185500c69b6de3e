"""`[crm.salesforce]`: the Salesforce connector's settings, validated from the config file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

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
    SettingsModel,
    shown,
    span,
    whole,
)

Auth = Literal["token", "jwt", "client_credentials"]
# which auth flow needs which secret
_NEEDED_BY: dict[str, tuple[Auth, ...]] = {
    "token_env": ("token",),
    "consumer_key_env": ("jwt", "client_credentials"),
    "client_secret_env": ("client_credentials",),
}


def _field_name(name: str) -> str:
    """A User field's API name (it goes into SOQL, so nothing but a name)."""
    if name and not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,79}$", name):
        raise ValueError(f"{shown(name[:20])} is not a field API name like \"Is_Away__c\"")
    return name


def _api_version(version: str) -> str:
    if not re.match(r"^\d{2}\.\d$", version):
        raise ValueError(f'{shown(version[:20])} is not an API version like "59.0"')
    return version


class SalesforceConfig(SettingsModel):
    # fields are validated in this order: `auth` sees username and private_key_file, the
    # secrets after it see `auth`
    instance_url: HttpsUrl
    username: str = ""
    private_key_file: str = ""
    auth: Auth = "token"
    token_env: EnvName = "SALESFORCE_ACCESS_TOKEN"
    consumer_key_env: EnvName = ""
    client_secret_env: EnvName = ""
    object: Literal["Lead", "Contact"] = "Lead"
    ca_bundle: ReadableFile = ""
    api_version: Annotated[str, AfterValidator(_api_version)] = "59.0"
    login_url: HttpsUrl = "https://login.salesforce.com"
    organization_id: str = ""
    placeholder_owners: tuple[str, ...] = ()
    filters: PropertyFilters = Field(default_factory=dict)
    metadata_fields: MetadataNames = Field(default_factory=dict)
    # stop non-essential calls when fewer daily calls remain
    api_reserve: Annotated[int, whole(0, 10**7)] = 1000
    poll_overlap: Annotated[timedelta, span(ZERO, HOUR)] = timedelta(minutes=2)
    # an owner the poll read this recently stands for "the owner now" in the compare before
    # an owner write (no second read); older reads are repeated. 0s: always read again
    owner_read_max_age: Annotated[timedelta, span(ZERO, MINUTE)] = timedelta(seconds=15)
    timeout: Annotated[timedelta, span(SECOND, 10 * MINUTE)] = timedelta(seconds=30)
    # Outbound Message defences (used by the service's HTTP side, not the connector):
    # the env var holding a secret path segment, and a CA file for client certificates
    outbound_path_secret_env: EnvName = ""
    outbound_client_ca: ReadableFile = ""
    # a checkbox field on User (e.g. Is_Away__c): checked makes the coordinator ineligible;
    # empty (the default) turns CRM availability off
    away_field: Annotated[str, AfterValidator(_field_name)] = ""
    # email intake: records leadrouter creates. Required fields a message may not carry get
    # these values; the owner is a queue (00G...) or a placeholder user ("" = the first of
    # `placeholder_owners`, else the API user, which routing then sees as a person)
    new_lead_last_name: Annotated[str, Field(min_length=1, max_length=80)] = "[not provided]"
    new_lead_company: Annotated[str, Field(min_length=1, max_length=255)] = "[not provided]"
    new_lead_owner: str = ""

    ACCOUNT_KEY: ClassVar[str] = "organization_id"  # the key naming the account (config errors)

    @property
    def account(self) -> str:
        """The CRM account webhooks name: the org id's 15-character form ("" when unset)."""
        return self.organization_id[:15]

    @field_validator("auth")
    @classmethod
    def _jwt_needs_a_key(cls, auth: Auth, info: ValidationInfo) -> Auth:
        if auth == "jwt" and not (info.data.get("username") and
                                  info.data.get("private_key_file")):
            raise ValueError('auth = "jwt" needs username and private_key_file')
        return auth

    @field_validator(*_NEEDED_BY)
    @classmethod
    def _secret_for_the_flow(cls, name: str, info: ValidationInfo) -> str:
        assert info.field_name is not None
        if not name and info.data.get("auth") in _NEEDED_BY[info.field_name]:
            raise ValueError("is required")
        return name
