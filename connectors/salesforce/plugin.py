"""The Salesforce connector plugin (entry point `leadrouter.connectors: salesforce`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.plugin import ConnectorPlugin
from connectors.salesforce.settings import SalesforceConfig


def create(settings: SalesforceConfig, fields: Mapping[str, str], **options: Any) -> Any:
    """`connectors.salesforce.connector.create_connector`, imported only when a connector is
    built: checking a config never loads simple-salesforce."""
    from connectors.salesforce.connector import create_connector

    return create_connector(settings, fields, **options)


PLUGIN = ConnectorPlugin(
    name="salesforce",
    settings_model=SalesforceConfig,
    create=create,
    # Lead / Contact fields holding personal data, beyond the generic names (Name, Email,
    # Phone, Street, Birthdate, Description...) that `check` refuses for every CRM; a
    # custom field's `__c` suffix is ignored when comparing
    phi_field_names=frozenset({
        "MailingStreet", "OtherStreet", "MailingAddress", "OtherAddress", "OtherPhone",
        "AssistantPhone",
    }),
)
