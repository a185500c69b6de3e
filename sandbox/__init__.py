"""CRM emulators for trying and testing leadrouter without a CRM (`leadrouter sandbox`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The emulators `leadrouter sandbox --crm` offers (each in the sub-package of that name,
# imported only when asked for), with the name the command's help gives it
EMULATORS: Mapping[str, str] = MappingProxyType({"hubspot": "HubSpot",
                                                 "salesforce": "Salesforce"})
DEFAULT_EMULATOR = "hubspot"
