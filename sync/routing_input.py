"""CRM- or file-shaped lead data -> the routing core's `Lead` (ids and routing attributes only)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from routing.models import Lead
from sync.config import Config
from sync.vocabulary import Vocabulary, build_vocabulary
from sync.zip_lookup import locate_zip

_VOCABULARIES: dict[int, Vocabulary] = {}


def vocabulary_of(config: Config) -> Vocabulary:
    """The config's vocabulary, built once per loaded config."""
    key = id(config)
    vocabulary = _VOCABULARIES.get(key)
    if vocabulary is None:
        vocabulary = build_vocabulary(config.rulebook, frozenset(config.fields),
                                      zip_attribute=config.zip_attribute)
        _VOCABULARIES[key] = vocabulary
        weakref.finalize(config, _VOCABULARIES.pop, key, None)
    return vocabulary


def routing_attributes(values: Mapping[str, object], config: Config) -> dict[str, str]:
    """The attributes named in [fields], reduced to values routing can compare (the rest
    become `OTHER`); blank values dropped. Nothing else of a lead is ever kept."""
    return vocabulary_of(config).clean(values)


def make_lead(lead_id: str, created_at: datetime, attributes: Mapping[str, str],
              config: Config, *, previous_owner: str | None = None,
              excluded: frozenset[str] = frozenset(),
              clock_from: datetime | None = None) -> Lead:
    zip_code = attributes.get(config.zip_attribute)
    return Lead(
        id=lead_id,
        created_at=created_at,
        attributes=MappingProxyType(dict(attributes)),
        location=locate_zip(zip_code) if zip_code else None,
        previous_owner=previous_owner,
        excluded=excluded,
        clock_from=clock_from,
    )
