"""The intake side of both connectors through their real client libraries against the
sandboxes: batched lookups by email and phone, creates, HubSpot's 409 duplicate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sync.context import Context


def test_hubspot_create_then_duplicate_email_answers_the_existing_id(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    connector: Any = make_context().connector
    first = connector.create_lead({"email": "dup.canary@patients.example",
                                   "phone": "+16265550199", "insurance_type": "commercial"})
    assert first.created
    again = connector.create_lead({"email": "dup.canary@patients.example"})
    assert (again.crm_id, again.created) == (first.crm_id, False)
    other = connector.create_lead({"phone": "+16265550177"})
    matches = connector.find_by_email_or_phone(
        ["DUP.Canary@patients.example", "nobody@patients.example"],
        ["+16265550177", "+16265550100"])
    assert [r.crm_id for r in matches.of("dup.canary@patients.example", None)] == [
        first.crm_id]
    assert [r.crm_id for r in matches.of(None, "+16265550177")] == [other.crm_id]
    assert matches.of("nobody@patients.example", "+16265550100") == []
    found = matches.of("dup.canary@patients.example", None)[0]
    assert found.eligible and found.owner_id is None
    assert found.attributes.get("insurance") == "commercial"


def test_salesforce_create_defaults_owner_and_lookups(
        sf_box: SalesforceSandbox, make_sf_context: Callable[..., Context]) -> None:
    connector: Any = make_sf_context().connector
    made = connector.create_lead({"Email": "sf.canary@patients.example",
                                  "Phone": "+16265550155"})
    assert made.created
    record = sf_box.get(made.crm_id)
    assert (record["LastName"], record["Company"]) == ("[not provided]", "[not provided]")
    assert record["OwnerId"] == sf_box.user_id("intake")  # the placeholder: routable
    matches = connector.find_by_email_or_phone(["SF.Canary@patients.example"],
                                               ["+16265550155"])
    found = matches.of("sf.canary@patients.example", "+16265550155")
    assert [r.crm_id for r in found] == [made.crm_id] and found[0].eligible
