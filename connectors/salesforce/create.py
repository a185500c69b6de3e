"""Email intake on Salesforce: find Leads (or Contacts) by email or phone, and create one.

SOQL reads the database itself, so a record whose create answer was lost is found at once.
Creates carry `Sforce-Auto-Assign: FALSE` (the org's assignment rule would pick an owner
before routing does). A duplicate rule that blocks the create (DUPLICATES_DETECTED) is
answered with the record it matched, found by the same lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import ContactMatches, CreatedLead, CrmLead, FatalError
from connectors.paging import chunked
from connectors.salesforce.query import field_name, literal, select_list
from connectors.salesforce.transport import SalesforceTransport
from connectors.salesforce.writes import NO_AUTO_ASSIGN

Reader = Callable[[Mapping[str, Any]], CrmLead | None]
DUPLICATE = "DUPLICATES_DETECTED"
IN_VALUES = 100  # values per `IN (...)`: keeps the GET URL short


def find(transport: SalesforceTransport, sobject: str, select: str, emails: Sequence[str],
         phones: Sequence[str], lead: Reader, *, refs: Sequence[str] = (),
         ref_property: str = "") -> ContactMatches:
    """SOQL `Email IN (...)`, `Phone IN (...)` (and the reference field's), 100 values each."""
    found: dict[str, dict[str, list[CrmLead]]] = {"Email": {}, "Phone": {}, ref_property: {}}
    asked = [("Email", sorted({e.lower() for e in emails})), ("Phone", sorted(set(phones)))]
    if refs and ref_property:
        asked.append((field_name(ref_property), sorted(set(refs))))
    for field, values in asked:
        for chunk in chunked(values, IN_VALUES):
            listed = ", ".join(literal(v) for v in chunk)
            names = [*select.split(", "), "Email", "Phone", field]
            soql = (f"SELECT {select_list(names)} "
                    f"FROM {sobject} WHERE {field} IN ({listed}) ORDER BY CreatedDate, Id")
            kind = field.lower() if field in ("Email", "Phone") else "ref"
            data = transport.query(f"{sobject}.find_by_{kind}", soql)
            for record in data.get("records") or []:
                value = str(record.get(field) or "").strip()
                found_lead = lead(record)
                if value and found_lead is not None:
                    key = value.lower() if field == "Email" else value
                    found[field].setdefault(key, []).append(found_lead)
    return ContactMatches(found["Email"], found["Phone"],
                          found[ref_property] if ref_property else {})


def create(transport: SalesforceTransport, sobject: str, record: Mapping[str, str],
           find_again: Callable[[], Sequence[CrmLead]]) -> CreatedLead:
    """One record, sent once (no blind retry: the caller looks it up before trying again)."""
    try:
        saved = transport.restful(f"{sobject}.create", f"sobjects/{sobject}", method="POST",
                                  json=dict(record), headers=NO_AUTO_ASSIGN, retry=False) or {}
    except FatalError as exc:
        if DUPLICATE in str(exc):
            matches = find_again()
            if matches:
                return CreatedLead(matches[0].crm_id, created=False)
        raise
    return CreatedLead(str(saved["id"]), created=True)


def new_record(settings: Any, properties: Mapping[str, str]) -> dict[str, str]:
    """The create body: the mapped properties, the documented defaults for required fields
    the message did not carry, and the owner new records wait under."""
    record = {name: value for name, value in properties.items() if value != ""}
    if settings.object == "Lead":
        record.setdefault("LastName", settings.new_lead_last_name)
        record.setdefault("Company", settings.new_lead_company)
    else:
        record.setdefault("LastName", settings.new_lead_last_name)
    owner = settings.new_lead_owner or next(iter(settings.placeholder_owners), "")
    if owner:
        record.setdefault("OwnerId", owner)
    return record
