"""Tasks, calls and associations through hubspot-api-client 12, and coordinator play."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks.exceptions import ApiException

from sandbox.hubspot import HubSpotSandbox

pytestmark = pytest.mark.timeout(30)

DUE = "2026-11-28T15:00:00Z"


def task_input(contact_id: str, *, type_id: int = 204, **props: str
               ) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE, "hs_task_subject": "Call new lead",
                    "hubspot_owner_id": "1001", "hs_task_priority": "HIGH",
                    "hs_task_type": "CALL", **props},
        associations=[{"to": {"id": contact_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}],
    )


def task_search(client: hubspot.Client, **body: Any) -> Any:
    return client.crm.objects.tasks.search_api.do_search(public_object_search_request=body)


def test_task_create_get_update_search(hubspot_box: HubSpotSandbox,
                                       hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Tara"})
    other = hubspot_box.create_contact({"firstname": "Uma"})
    api = hubspot_client.crm.objects.tasks.basic_api
    task = api.create(simple_public_object_input_for_create=task_input(
        cid, hs_task_body="leadrouter:lead/1/v1/task"))
    assert task.properties["hs_task_status"] == "NOT_STARTED"
    assert task.properties["hs_timestamp"] == "2026-11-28T15:00:00.000Z"
    got = api.get_by_id(task.id, properties=["hs_task_subject", "hubspot_owner_id"],
                        associations=["contacts"])
    assert got.properties["hs_task_subject"] == "Call new lead"
    assert [a.id for a in got.associations["contacts"].results] == [cid]
    assert [t["id"] for t in hubspot_box.tasks_for(cid)] == [task.id]

    api.update(task.id, simple_public_object_input=SimplePublicObjectInput(
        properties={"hs_task_priority": "LOW"}))
    assert hubspot_box.all_tasks()[0]["properties"]["hs_task_priority"] == "LOW"

    api.create(simple_public_object_input_for_create=task_input(other))
    found = task_search(hubspot_client, filterGroups=[{"filters": [
        {"propertyName": "associations.contact", "operator": "EQ", "value": cid}]}],
        properties=["hs_task_body"])
    assert [r.id for r in found.results] == [task.id]
    marker = task_search(hubspot_client, filterGroups=[{"filters": [
        {"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN",
         "value": "leadrouter:lead/1/v1/task"}]}])
    assert marker.total == 1

    hubspot_box.complete_task(task.id)
    done = api.get_by_id(task.id, properties=["hs_task_status", "hs_task_completion_date"])
    assert done.properties["hs_task_status"] == "COMPLETED"
    assert done.properties["hs_task_completion_date"]


def test_task_create_rejections(hubspot_box: HubSpotSandbox,
                                hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Val"})
    api = hubspot_client.crm.objects.tasks.basic_api
    cases = [
        task_input(cid, type_id=194),  # the call->contact id on a task
        task_input("999999"),  # a contact that does not exist
        task_input(cid, hubspot_owner_id="31337"),
        task_input(cid, hs_task_status="SOMEDAY"),
        SimplePublicObjectInputForCreate(properties={"hs_task_subject": "no due time"},
                                         associations=[]),
    ]
    for body in cases:
        with pytest.raises(ApiException) as err:
            api.create(simple_public_object_input_for_create=body)
        assert err.value.status == 400
        assert json.loads(err.value.body)["category"] == "VALIDATION_ERROR"
    assert hubspot_box.all_tasks() == []


def test_batch_create_tasks(hubspot_box: HubSpotSandbox,
                            hubspot_client: hubspot.Client) -> None:
    contacts = [hubspot_box.create_contact({"firstname": f"B{i}"}) for i in range(3)]
    batch = hubspot_client.crm.objects.tasks.batch_api
    inputs = [task_input(c).to_dict() for c in contacts]
    res = batch.create(batch_input_simple_public_object_batch_input_for_create=(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)))
    assert res.status == "COMPLETE" and len(res.results) == 3
    assert [len(hubspot_box.tasks_for(c)) for c in contacts] == [1, 1, 1]
    with pytest.raises(ApiException) as err:
        batch.create(batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs * 34)))
    assert err.value.status == 400
    assert len(hubspot_box.all_tasks()) == 3


def test_calls_update_contact_attempt_fields(hubspot_box: HubSpotSandbox,
                                             hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Cal"})
    calls = hubspot_client.crm.objects.calls
    call = calls.basic_api.create(simple_public_object_input_for_create={
        "properties": {"hs_timestamp": "2026-11-28T10:30:00Z", "hs_call_title": "Intake",
                       "hs_call_direction": "OUTBOUND", "hubspot_owner_id": "1002"},
        "associations": [{"to": {"id": cid}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}],
    })
    props = hubspot_box.contact(cid)["properties"]
    assert props["notes_last_contacted"] == "2026-11-28T10:30:00.000Z"
    assert props["num_contacted_notes"] == "1"
    assert props["hs_last_sales_activity_timestamp"]
    found = calls.search_api.do_search(public_object_search_request={"filterGroups": [
        {"filters": [{"propertyName": "associations.contact", "operator": "EQ",
                      "value": cid}]}]})
    assert [r.id for r in found.results] == [call.id]
    calls.basic_api.update(call.id, simple_public_object_input={
        "properties": {"hs_call_disposition": "connected"}})
    assert calls.basic_api.get_by_id(call.id, properties=["hs_call_disposition"]
                                     ).properties["hs_call_disposition"] == "connected"
    # The coordinator logs another call and an email by hand.
    hubspot_box.log_call(cid, at=datetime(2026, 11, 28, 11, 0, tzinfo=UTC))
    hubspot_box.log_email(cid, owner_id="1002")
    props = hubspot_box.contact(cid)["properties"]
    assert props["num_contacted_notes"] == "3"
    assert props["notes_last_contacted"] >= "2026-11-28T11:00:00.000Z"
    assert len(hubspot_box.calls_for(cid)) == 2


def test_v4_associations(hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    c1 = hubspot_box.create_contact({"firstname": "Vee"})
    c2 = hubspot_box.create_contact({"firstname": "Wes"})
    task = hubspot_client.crm.objects.tasks.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": DUE}, associations=[]))
    call = hubspot_client.crm.objects.calls.basic_api.create(
        simple_public_object_input_for_create={"properties": {"hs_timestamp": DUE}})
    v4 = hubspot_client.crm.associations.v4
    made = v4.basic_api.create("tasks", task.id, "contacts", c1, association_spec=[
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=204)])
    assert (made.from_object_id, made.to_object_id, made.to_object_type_id) == (
        task.id, c1, "0-1")
    default = v4.basic_api.create_default("calls", call.id, "contacts", c2)
    assert default.status == "COMPLETE"
    assert {r.association_spec.association_type_id for r in default.results} == {194, 193}
    assert hubspot_box.contact(c2)["properties"]["num_contacted_notes"] == "1"
    page = v4.basic_api.get_page("contacts", c1, "tasks")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in page.results] == [
        (task.id, 203)]
    with pytest.raises(Exception) as err:
        v4.basic_api.create("tasks", task.id, "contacts", c2, association_spec=[
            AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=194)])
    assert getattr(err.value, "status", None) == 400
    res = v4.batch_api.create("tasks", "contacts",
                              batch_input_public_association_multi_post=(
                                  BatchInputPublicAssociationMultiPost(inputs=[
                                      {"from": {"id": task.id}, "to": {"id": c2},
                                       "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                  "associationTypeId": 204}]}])))
    assert len(res.results) == 1
    read = v4.batch_api.get_page("tasks", "contacts",
                                 batch_input_public_fetch_associations_batch_request=(
                                     BatchInputPublicFetchAssociationsBatchRequest(
                                         inputs=[{"id": task.id}])))
    assert sorted(t.to_object_id for t in read.results[0].to) == sorted([c1, c2])
    v4.basic_api.archive("tasks", task.id, "contacts", c1)
    assert [t["id"] for t in hubspot_box.tasks_for(c1)] == []
    assert [t["contact_ids"] for t in hubspot_box.all_tasks()] == [[c2]]


def test_coordinator_play_and_readback(hubspot_box: HubSpotSandbox) -> None:
    cid = hubspot_box.create_contact({"firstname": "Xan", "hubspot_owner_id": "1090"})
    hubspot_box.set_lead_status(cid, "ATTEMPTED_TO_CONTACT")
    hubspot_box.set_owner_by_hand(cid, "1004")
    props = hubspot_box.contact(cid)["properties"]
    assert (props["hs_lead_status"], props["hubspot_owner_id"]) == (
        "ATTEMPTED_TO_CONTACT", "1004")
    with pytest.raises(KeyError):
        hubspot_box.contact("1")
    with pytest.raises(KeyError):
        hubspot_box.complete_task("1")
    with pytest.raises(ValueError):
        hubspot_box.set_owner_by_hand(cid, "999")
