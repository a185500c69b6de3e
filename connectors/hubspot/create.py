"""Email intake on HubSpot: find contacts by email or phone (batched), and create one.

Email is HubSpot's unique contact property: a batch read with `idProperty=email` (100 a
call) reads the records themselves, not the search index, which trails writes, so a contact
whose create answer was lost is found at once. Phone has no unique lookup: it goes through
search (5 phones a call, one filter group each), which may miss a contact created in the
last seconds (see README, email intake).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import ContactMatches, CreatedLead, CrmLead, FatalError
from connectors.hubspot.transport import HubSpotTransport
from connectors.paging import chunked

Reader = Callable[[Mapping[str, Any]], CrmLead | None]
BATCH = 100  # batch read inputs
PHONES_PER_SEARCH = 5  # filter groups per search request


def _grouped(records: Sequence[Mapping[str, Any]], prop: str, lead: Reader, *,
             lower: bool) -> dict[str, list[CrmLead]]:
    out: dict[str, list[CrmLead]] = {}
    for record in records:
        value = str((record.get("properties") or {}).get(prop) or "").strip()
        found = lead(record)
        if value and found is not None:
            out.setdefault(value.lower() if lower else value, []).append(found)
    for leads in out.values():
        leads.sort(key=lambda r: (r.created_at, r.crm_id))
    return out


def by_unique(transport: HubSpotTransport, prop: str, values: Sequence[str],
              properties: Sequence[str], lead: Reader, *, lower: bool
              ) -> dict[str, list[CrmLead]]:
    """A batch read by a unique property (`email`, or the admin's unique-value reference
    property): the records themselves, not the search index."""
    records: list[Mapping[str, Any]] = []
    wanted = {v.lower() for v in values} if lower else set(values)
    for chunk in chunked(sorted(wanted), BATCH):
        body = {"idProperty": prop, "inputs": [{"id": v} for v in chunk],
                "properties": [*properties, prop], "propertiesWithHistory": []}
        data = transport.call(f"contacts.batch_read_by_{'email' if prop == 'email' else 'ref'}",
                              "crm.contacts.batch_api", "read",
                              batch_read_input_simple_public_object_id=body,
                              archived=False) or {}
        records.extend(data.get("results") or [])
    return _grouped(records, prop, lead, lower=lower)


def by_phone(transport: HubSpotTransport, phones: Sequence[str], properties: Sequence[str],
             lead: Reader) -> dict[str, list[CrmLead]]:
    records: list[Mapping[str, Any]] = []
    for chunk in chunked(sorted(set(phones)), PHONES_PER_SEARCH):
        body = {"filterGroups": [{"filters": [
                    {"propertyName": "phone", "operator": "EQ", "value": p}]} for p in chunk],
                "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                "properties": [*properties, "phone"], "limit": 100}
        data = transport.call("contacts.search_phone", "crm.contacts.search_api", "do_search",
                              search=True, public_object_search_request=body) or {}
        records.extend(data.get("results") or [])
    return _grouped(records, "phone", lead, lower=False)


def find(transport: HubSpotTransport, emails: Sequence[str], phones: Sequence[str],
         properties: Sequence[str], lead: Reader, *, refs: Sequence[str] = (),
         ref_property: str = "") -> ContactMatches:
    return ContactMatches(
        by_unique(transport, "email", emails, properties, lead, lower=True) if emails else {},
        by_phone(transport, phones, properties, lead) if phones else {},
        by_unique(transport, ref_property, refs, properties, lead, lower=False)
        if refs and ref_property else {})


def create(transport: HubSpotTransport, properties: Mapping[str, str]) -> CreatedLead:
    """One contact; sent once. A 409 (the email belongs to a contact) answers with its id."""
    body = {"properties": dict(properties), "associations": []}
    try:
        data = transport.call("contacts.create", "crm.contacts.basic_api", "create",
                              retry=False, simple_public_object_input_for_create=body) or {}
    except FatalError as exc:
        existing = getattr(exc, "existing_id", None)
        if exc.status == 409 and existing:
            return CreatedLead(str(existing), created=False)
        raise
    return CreatedLead(str(data["id"]), created=True)
