"""The HubSpot connector plugin (entry point `leadrouter.connectors: hubspot`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.hubspot.settings import HubSpotConfig
from connectors.plugin import ConnectorPlugin


def create(settings: HubSpotConfig, fields: Mapping[str, str], **options: Any) -> Any:
    """`connectors.hubspot.connector.create_connector`, imported only when a connector is
    built: checking a config never loads the HubSpot client."""
    from connectors.hubspot.connector import create_connector

    return create_connector(settings, fields, **options)


PLUGIN = ConnectorPlugin(
    name="hubspot",
    settings_model=HubSpotConfig,
    create=create,
    # contact properties holding personal data, beyond the generic names (email, phone,
    # firstname, address...) that `check` refuses for every CRM
    phi_field_names=frozenset({
        "hs_additional_emails", "hs_whatsapp_phone_number", "hs_calculated_phone_number",
        "hs_calculated_mobile_number", "hs_searchable_calculated_phone_number",
        "hs_searchable_calculated_mobile_number", "hs_ip_address",
    }),
)
