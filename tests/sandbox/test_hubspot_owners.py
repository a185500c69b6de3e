"""Owners through hubspot-api-client 12: listing, paging, email/archived filters, owner writes."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException

from sandbox.hubspot import HubSpotSandbox

pytestmark = pytest.mark.timeout(30)


def test_demo_roster(hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    page = hubspot_client.crm.owners.owners_api.get_page(limit=100)
    got = {o.id: o for o in page.results}
    assert sorted(got) == ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008",
                           "1009", "1090"]
    maria = got["1001"]
    assert (maria.email, maria.first_name, maria.last_name, maria.type) == (
        "maria@sunrise-recovery.example", "Maria", "Lopez", "PERSON")
    assert isinstance(maria.user_id, int)
    assert maria.teams and maria.teams[0].primary is True
    assert maria.archived is False and maria.created_at and maria.updated_at
    assert got["1009"].last_name == "Whitfield"
    inbox = got["1090"]
    assert (inbox.type, inbox.email, inbox.first_name, inbox.last_name) == (
        "QUEUE", "admissions@sunrise-recovery.example", "Admissions", "Inbox")
    assert page.paging is None


def test_paging_email_and_archived(hubspot_box: HubSpotSandbox,
                                   hubspot_client: hubspot.Client) -> None:
    api = hubspot_client.crm.owners.owners_api
    seen, after = [], None
    while True:
        page = api.get_page(limit=4, **({"after": after} if after else {}))
        seen += [o.id for o in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == 10 == len(set(seen))
    by_mail = api.get_page(email="li@sunrise-recovery.example")
    assert [o.id for o in by_mail.results] == ["1002"]
    hubspot_box.deactivate_owner("1005")
    active = [o.id for o in api.get_page().results]
    assert "1005" not in active
    archived = api.get_page(archived=True)
    assert [(o.id, o.archived) for o in archived.results] == [("1005", True)]
    assert api.get_by_id("1003").last_name == "Okafor"
    assert api.get_by_id(str(1003 + 7_000_000), id_property="userId").id == "1003"
    with pytest.raises(OwnersApiException) as err:
        api.get_by_id("1005")  # archived owners need archived=true
    assert err.value.status == 404
    assert api.get_by_id("1005", archived=True).archived is True


def test_owner_writes_are_checked(hubspot_box: HubSpotSandbox,
                                  hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Own"})
    api = hubspot_client.crm.contacts.basic_api
    hubspot_box.deactivate_owner("1006")
    for bad in ("123456", "1006"):  # unknown, and deactivated (archived)
        with pytest.raises(ApiException) as err:
            api.update(cid, simple_public_object_input=SimplePublicObjectInput(
                properties={"hubspot_owner_id": bad}))
        assert err.value.status == 400
        body = json.loads(err.value.body)
        assert body["category"] == "VALIDATION_ERROR"
        assert "INVALID_OWNER_ID" in body["message"]
    assert "hubspot_owner_id" not in hubspot_box.contact(cid)["properties"]
    # The queue placeholder is a valid owner; the assigned date follows each change.
    api.update(cid, simple_public_object_input=SimplePublicObjectInput(
        properties={"hubspot_owner_id": "1090"}))
    first = hubspot_box.contact(cid)["properties"]["hubspot_owner_assigneddate"]
    api.update(cid, simple_public_object_input=SimplePublicObjectInput(
        properties={"hubspot_owner_id": "1090"}))
    assert hubspot_box.contact(cid)["properties"]["hubspot_owner_assigneddate"] == first
    hubspot_box.set_owner_by_hand(cid, "1007")
    props = hubspot_box.contact(cid)["properties"]
    assert props["hubspot_owner_id"] == "1007"
    assert props["hubspot_owner_assigneddate"] >= first
    # hubspot_owner_assigneddate is calculated by HubSpot: clients cannot write it.
    with pytest.raises(ApiException) as err:
        api.update(cid, simple_public_object_input=SimplePublicObjectInput(
            properties={"hubspot_owner_assigneddate": "1700000000000"}))
    assert err.value.status == 400
    hubspot_box.set_owner_by_hand(cid, None)
    props = hubspot_box.contact(cid)["properties"]
    assert "hubspot_owner_id" not in props and "hubspot_owner_assigneddate" not in props
