"""CRM- or file-shaped lead data -> the routing core's `Lead` (ids and routing attributes only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from routing.models import Lead
from sync.config import Config
from sync.geo import locate_zip


def routing_attributes(values: Mapping[str, object], config: Config) -> dict[str, str]:
    """Keep only the attributes named in [fields], as trimmed strings; drop empty values."""
    attributes: dict[str, str] = {}
    for attribute in config.fields:
        value = values.get(attribute)
        if value is None:
            continue
        text = str(value).strip()
        if text:
            attributes[attribute] = text
    return attributes


def make_lead(lead_id: str, created_at: datetime, attributes: Mapping[str, str],
              config: Config, *, previous_owner: str | None = None,
              excluded: frozenset[str] = frozenset()) -> Lead:
    zip_code = attributes.get(config.zip_attribute)
    return Lead(
        id=lead_id,
        created_at=created_at,
        attributes=MappingProxyType(dict(attributes)),
        location=locate_zip(zip_code) if zip_code else None,
        previous_owner=previous_owner,
        excluded=excluded,
    )
