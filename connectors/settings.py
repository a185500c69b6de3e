"""The CRM connectors' settings models, where they used to live: each now lives with its
connector (`connectors/<crm>/settings.py`) and comes to the config loader by its plugin."""

from connectors.hubspot.settings import HubSpotConfig
from connectors.salesforce.settings import SalesforceConfig

__all__ = ["HubSpotConfig", "SalesforceConfig"]
