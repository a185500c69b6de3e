"""Contacts through hubspot-api-client 12 over HTTPS: search, get/patch, batch read/update."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.contacts.exceptions import ApiException

from sandbox.hubspot import HubSpotSandbox

from .conftest import hubspot_client_for

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


@pytest.fixture(scope="module")
def hubspot_search_box() -> Iterator[tuple[HubSpotSandbox, dict[str, str]]]:
    """Six hand-made contacts with known properties, one minute apart."""
    with HubSpotSandbox(search_per_second=1000) as box:
        box.seed_demo()
        rows = {
            "a": {"firstname": "Ana", "state": "CA", "insurance_type": "commercial",
                  "email": "ana.one@example.com", "hubspot_owner_id": "1001"},
            "b": {"firstname": "Ben", "state": "AZ", "insurance_type": "medicaid",
                  "email": "ben.two@example.com"},
            "c": {"firstname": "Cy", "state": "CA", "insurance_type": "ppo",
                  "email": "cy.three@example.org"},
            "d": {"firstname": "Di", "state": "NV", "insurance_type": "self_pay",
                  "email": "di.four@example.com", "hubspot_owner_id": "1090"},
            "e": {"firstname": "Ed", "state": "TX", "insurance_type": "medicaid"},
            "f": {"firstname": "Flo", "state": "tx", "insurance_type": "tricare",
                  "email": "flo.six@example.net"},
        }
        ids = {k: box.create_contact(v, created_at=T0 + timedelta(minutes=i))
               for i, (k, v) in enumerate(rows.items())}
        yield box, ids


def search(client: hubspot.Client, **body: Any) -> Any:
    return client.crm.contacts.search_api.do_search(public_object_search_request=body)


def ids_of(page: Any) -> list[str]:
    return [r.id for r in page.results]


def one_filter(client: hubspot.Client, **f: Any) -> list[str]:
    page = search(client, filterGroups=[{"filters": [f]}],
                  sorts=[{"propertyName": "createdate", "direction": "ASCENDING"}], limit=100)
    return ids_of(page)


def test_search_operators(hubspot_search_box: tuple[HubSpotSandbox, dict[str, str]]) -> None:
    box, ids = hubspot_search_box
    c = hubspot_client_for(box)
    i = ids
    assert one_filter(c, propertyName="state", operator="EQ", value="tx") == [i["e"], i["f"]]
    assert one_filter(c, propertyName="state", operator="NEQ", value="CA") == [
        i["b"], i["d"], i["e"], i["f"]]
    assert one_filter(c, propertyName="insurance_type", operator="IN",
                      values=["medicaid", "ppo"]) == [i["b"], i["c"], i["e"]]
    assert one_filter(c, propertyName="insurance_type", operator="NOT_IN",
                      values=["medicaid", "ppo"]) == [i["a"], i["d"], i["f"]]
    assert one_filter(c, propertyName="hubspot_owner_id", operator="HAS_PROPERTY") == [
        i["a"], i["d"]]
    assert one_filter(c, propertyName="email", operator="NOT_HAS_PROPERTY") == [i["e"]]
    assert one_filter(c, propertyName="email", operator="CONTAINS_TOKEN", value="example.org"
                      ) == [i["c"]]
    assert one_filter(c, propertyName="email", operator="CONTAINS_TOKEN", value="*.net") == [
        i["f"]]
    assert one_filter(c, propertyName="email", operator="NOT_CONTAINS_TOKEN",
                      value="example.com") == [i["c"], i["e"], i["f"]]
    # Dates: epoch milliseconds (what HubSpot documents) and ISO text are both accepted.
    t2 = T0 + timedelta(minutes=2)
    assert one_filter(c, propertyName="createdate", operator="GT", value=ms(t2)) == [
        i["d"], i["e"], i["f"]]
    assert one_filter(c, propertyName="createdate", operator="GTE", value=t2.isoformat()) == [
        i["c"], i["d"], i["e"], i["f"]]
    assert one_filter(c, propertyName="createdate", operator="LT", value=ms(t2)) == [
        i["a"], i["b"]]
    assert one_filter(c, propertyName="createdate", operator="LTE", value=ms(t2)) == [
        i["a"], i["b"], i["c"]]
    assert one_filter(c, propertyName="createdate", operator="BETWEEN", value=ms(t2),
                      highValue=ms(t2 + timedelta(minutes=1))) == [i["c"], i["d"]]
    assert one_filter(c, propertyName="createdate", operator="EQ", value=ms(T0)) == [i["a"]]
    assert one_filter(c, propertyName="hs_object_id", operator="GT", value=i["e"]) == [i["f"]]


def test_filter_groups_or_and_sorts(
        hubspot_search_box: tuple[HubSpotSandbox, dict[str, str]]) -> None:
    box, i = hubspot_search_box
    c = hubspot_client_for(box)
    page = search(c, filterGroups=[
        {"filters": [{"propertyName": "state", "operator": "EQ", "value": "CA"},
                     {"propertyName": "insurance_type", "operator": "EQ", "value": "ppo"}]},
        {"filters": [{"propertyName": "state", "operator": "EQ", "value": "NV"}]},
    ], sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}],
        properties=["state", "insurance_type"], limit=10)
    assert page.total == 2
    assert ids_of(page) == [i["d"], i["c"]]
    assert page.results[0].properties["state"] == "NV"
    # Always returned alongside the requested properties, as HubSpot does.
    assert set(page.results[0].properties) >= {"createdate", "lastmodifieddate",
                                               "hs_object_id"}
    by_name = search(c, sorts=[{"propertyName": "firstname", "direction": "ASCENDING"}],
                     properties=["firstname"], limit=3)
    assert [r.properties["firstname"] for r in by_name.results] == ["Ana", "Ben", "Cy"]
    assert by_name.paging.next.after == "3"


def test_search_validation_errors(
        hubspot_search_box: tuple[HubSpotSandbox, dict[str, str]]) -> None:
    box, _ = hubspot_search_box
    c = hubspot_client_for(box)
    for body in (
        {"limit": 201},
        {"filterGroups": "not-a-list"},
        {"filterGroups": [{"filters": [{"propertyName": "state", "operator": "LIKE",
                                        "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"operator": "EQ", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GT",
                                        "value": "yesterday-ish"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "state", "operator": "EQ"}]}]},
    ):
        with pytest.raises(ApiException) as err:
            search(c, **body)
        assert err.value.status == 400
        payload = hubspot_json(err.value)
        assert payload["status"] == "error"
        assert payload["category"] == "VALIDATION_ERROR"
        assert payload["correlationId"]


def hubspot_json(exc: ApiException) -> Any:
    import json

    return json.loads(exc.body)


def test_paging_and_the_10000_cap() -> None:
    with HubSpotSandbox(search_per_second=1000) as box:
        box.seed_demo()
        start = T0 - timedelta(days=2)
        box.seed_contacts(10_050, created_between=(start, T0), rng_seed=3)
        c = hubspot_client_for(box)
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [
                {"propertyName": "createdate", "operator": "GTE", "value": ms(start)}]}],
            "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
            "properties": ["createdate", "state"], "limit": 200,
        }
        first = search(c, **body)
        assert first.total == 10_050
        assert len(first.results) == 200
        assert first.paging.next.after == "200"
        seen: list[str] = []
        after = "9000"
        while True:  # the last pages before the cap
            page = search(c, **body, after=after)
            seen += ids_of(page)
            if after == "9800":
                break
            after = page.paging.next.after
        assert len(seen) == 1000 == len(set(seen))
        # HubSpot still offers a next page at 10,000 ... and refuses it.
        assert page.paging.next.after == "10000"
        with pytest.raises(ApiException) as err:
            search(c, **body, after="10000")
        assert err.value.status == 400
        assert "10000" in hubspot_json(err.value)["message"]
        # Ascending createdate order holds across pages: the cursor-moving workaround works.
        created = [r.properties["createdate"] for r in page.results]
        assert created == sorted(created)
        last = page.results[-1].properties["createdate"]
        rest = search(c, **{**body, "filterGroups": [{"filters": [
            {"propertyName": "createdate", "operator": "GT", "value": last}]}]})
        assert 0 < rest.total <= 10_050 - 10_000


def test_full_walk_returns_each_contact_once(
        hubspot_search_box: tuple[HubSpotSandbox, dict[str, str]]) -> None:
    box, ids = hubspot_search_box
    c = hubspot_client_for(box)
    seen, after = [], None
    while True:
        page = search(c, limit=2, **({"after": after} if after else {}))
        seen += ids_of(page)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert sorted(seen, key=int) == sorted(ids.values(), key=int)


def test_index_lag_hides_new_contacts_from_search_only(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    hubspot_box.index_lag = 1.0
    created = hubspot_client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create={"properties": {"firstname": "Lag"}})
    body = {"filterGroups": [{"filters": [
        {"propertyName": "firstname", "operator": "EQ", "value": "Lag"}]}]}
    assert search(hubspot_client, **body).total == 0
    # Reads by id are consistent at once; only search lags.
    assert hubspot_client.crm.contacts.basic_api.get_by_id(created.id).id == created.id
    time.sleep(1.1)
    assert ids_of(search(hubspot_client, **body)) == [created.id]


def test_get_and_patch(hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Pat", "state": "AZ"})
    api = hubspot_client.crm.contacts.basic_api
    got = api.get_by_id(cid, properties=["state", "hubspot_owner_id"])
    assert got.properties["state"] == "AZ"
    assert got.properties["hubspot_owner_id"] is None
    before = hubspot_box.contact(cid)["properties"]["lastmodifieddate"]
    time.sleep(0.01)
    patched = api.update(cid, simple_public_object_input=SimplePublicObjectInput(
        properties={"hubspot_owner_id": "1002", "hs_lead_status": "OPEN"}))
    assert patched.properties["hubspot_owner_id"] == "1002"
    props = hubspot_box.contact(cid)["properties"]
    assert props["hs_lead_status"] == "OPEN"
    assert props["lastmodifieddate"] > before
    assert props["hubspot_owner_assigneddate"]
    with pytest.raises(ApiException) as err:
        api.get_by_id("999999")
    assert err.value.status == 404
    assert hubspot_json(err.value)["category"] == "OBJECT_NOT_FOUND"
    for bad in ({"no_such_property": "x"}, {"hs_object_id": "5"},
                {"hs_lead_status": "NOT_A_STATUS"}):
        with pytest.raises(ApiException) as err:
            api.update(cid, simple_public_object_input=SimplePublicObjectInput(properties=bad))
        assert err.value.status == 400
        assert hubspot_json(err.value)["category"] == "VALIDATION_ERROR"
    # A body that does not fit the OpenAPI schema (properties must be an object of strings).
    with pytest.raises(ApiException) as err:
        api.update(cid, simple_public_object_input={"properties": ["state"]})
    assert err.value.status == 400


def test_batch_read_and_update_with_partial_errors(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    a = hubspot_box.create_contact({"firstname": "One", "state": "CA"})
    b = hubspot_box.create_contact({"firstname": "Two", "state": "NV"})
    batch = hubspot_client.crm.contacts.batch_api
    ok = batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=a), SimplePublicObjectId(id=b)], properties=["state"],
        properties_with_history=[]))
    assert type(ok).__name__ == "BatchResponseSimplePublicObject"
    assert {r.id: r.properties["state"] for r in ok.results} == {a: "CA", b: "NV"}
    partial = batch.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=a), SimplePublicObjectId(id="77777")],
            properties=["state"], properties_with_history=[]))
    assert type(partial).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [r.id for r in partial.results] == [a]
    assert partial.num_errors == 1
    assert partial.errors[0].category == "OBJECT_NOT_FOUND"
    assert partial.errors[0].context == {"ids": ["77777"]}

    upd = batch.update(batch_input_simple_public_object_batch_input=(
        BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=a, properties={"hubspot_owner_id": "1003"}),
            SimplePublicObjectBatchInput(id="88888", properties={"hubspot_owner_id": "1003"}),
        ])))
    assert type(upd).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [r.id for r in upd.results] == [a]
    assert hubspot_box.contact(a)["properties"]["hubspot_owner_id"] == "1003"
    # One invalid value fails the whole batch: nothing is written.
    with pytest.raises(ApiException) as err:
        batch.update(batch_input_simple_public_object_batch_input=(
            BatchInputSimplePublicObjectBatchInput(inputs=[
                SimplePublicObjectBatchInput(id=b, properties={"hubspot_owner_id": "1004"}),
                SimplePublicObjectBatchInput(id=a, properties={"hubspot_owner_id": "4242"}),
            ])))
    assert err.value.status == 400
    assert "INVALID_OWNER_ID" in hubspot_json(err.value)["message"]
    assert "hubspot_owner_id" not in hubspot_box.contact(b)["properties"]
    too_many = [SimplePublicObjectId(id=a)] * 101
    with pytest.raises(ApiException) as err:
        batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=too_many, properties=[], properties_with_history=[]))
    assert err.value.status == 400


def test_bad_token_is_401_with_hubspot_error_shape(hubspot_box: HubSpotSandbox) -> None:
    c = hubspot_client_for(hubspot_box, token="pat-na1-wrong")
    with pytest.raises(ApiException) as err:
        c.crm.contacts.search_api.do_search(public_object_search_request=(
            PublicObjectSearchRequest(limit=1)))
    assert err.value.status == 401
    body = hubspot_json(err.value)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error"
    assert hubspot_box.counters()["unauthorized"] == 1


def test_backdated_contacts_keep_createdate_order(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    late = hubspot_box.create_contact({"firstname": "Late"}, created_at=T0)
    early = hubspot_box.create_contact({"firstname": "Early"},
                                       created_at=T0 - timedelta(hours=1))
    # An import that rewrites createdate moves the record in the index too.
    moved = hubspot_box.create_contact({"firstname": "Moved"}, created_at=T0)
    hubspot_box.update_contact(moved, {"createdate": ms(T0 - timedelta(hours=2))})
    body = {"filterGroups": [{"filters": [
        {"propertyName": "createdate", "operator": "GTE", "value": ms(T0 - timedelta(days=1))}]}],
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}]}
    assert ids_of(search(hubspot_client, **body)) == [moved, early, late]
