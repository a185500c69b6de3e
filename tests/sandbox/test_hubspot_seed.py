"""Seeding: the demo roster and synthetic treatment-center contacts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import hubspot
import pytest
from hubspot.crm.contacts.exceptions import ApiException

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.seed import ZIPS

pytestmark = pytest.mark.timeout(30)


def test_synthetic_contacts_look_like_a_treatment_center(hubspot_box: HubSpotSandbox) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(days=3)
    ids = hubspot_box.seed_contacts(2000, owned_fraction=0.25, created_between=(start, end),
                                    rng_seed=11)
    assert len(ids) == len(set(ids)) == 2000
    contacts = [hubspot_box.contact(i) for i in ids]
    props = [c["properties"] for c in contacts]
    for p in props:
        assert p["zip"] in ZIPS[p["state"]]
        assert p["email"].split("@")[1].startswith("example.")
        assert " 555 01" in p["phone"]
        assert p["hs_lead_status"] == "NEW" and p["lifecyclestage"] == "lead"
    assert all(start.timestamp() * 1000 <= c["created_ms"] <= end.timestamp() * 1000
               for c in contacts)
    insurance = Counter(p["insurance_type"] for p in props)
    assert set(insurance) == {"commercial", "ppo", "hmo", "medicaid", "medicare", "self_pay",
                              "tricare"}
    assert set(Counter(p["level_of_care"] for p in props)) == {
        "detox", "residential", "php", "iop", "outpatient"}
    assert set(Counter(p["preferred_language"] for p in props)) == {"english", "spanish"}
    sources = Counter(p["hs_analytics_source"] for p in props)
    assert sources.most_common(1)[0][0] == "PAID_SEARCH" and "OFFLINE" in sources
    states = Counter(p["state"] for p in props)
    assert states.most_common(1)[0][0] == "CA" and {"AZ", "NV", "TX"} <= set(states)
    owned = [p for p in props if "hubspot_owner_id" in p]
    assert 0.2 < len(owned) / len(props) < 0.3
    # Only active people own seeded leads, never the queue placeholder.
    assert {p["hubspot_owner_id"] for p in owned} <= {str(i) for i in range(1001, 1010)}
    assert all(p["hubspot_owner_assigneddate"] for p in owned)
    # Reproducible with the same seed.
    again = HubSpotSandbox()
    again.seed_demo()
    same = again.seed_contacts(5, created_between=(start, end), rng_seed=11)
    assert [again.contact(i)["properties"]["state"] for i in same] == [
        p["state"] for p in props[:5]]


def test_create_contact_and_list_endpoint(hubspot_box: HubSpotSandbox,
                                          hubspot_client: hubspot.Client) -> None:
    when = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)
    cid = hubspot_box.create_contact({"firstname": "Lee", "insurance_type": "medicaid"},
                                     created_at=when)
    assert hubspot_box.contact(cid)["properties"]["createdate"] == "2026-10-01T08:30:00.000Z"
    with pytest.raises(ValueError):
        hubspot_box.create_contact({"not_a_property": "x"})
    others = [hubspot_box.create_contact({"firstname": f"L{i}"}) for i in range(4)]
    api = hubspot_client.crm.contacts.basic_api
    page = api.get_page(limit=3, properties=["firstname"])
    assert [r.id for r in page.results] == [cid, *others[:2]]
    rest = api.get_page(limit=3, after=page.paging.next.after)
    assert [r.id for r in rest.results] == others[2:]
    assert rest.paging is None
    everything = hubspot_client.crm.contacts.get_all()
    assert len(everything) == 5


def test_custom_property_definition(hubspot_box: HubSpotSandbox,
                                    hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Meta"})
    api = hubspot_client.crm.contacts.basic_api
    with pytest.raises(ApiException):
        api.update(cid, simple_public_object_input={"properties": {"leadrouter_rule": "x"}})
    hubspot_box.define_property("contacts", "leadrouter_rule")
    api.update(cid, simple_public_object_input={"properties": {"leadrouter_rule": "x"}})
    assert hubspot_box.contact(cid)["properties"]["leadrouter_rule"] == "x"
