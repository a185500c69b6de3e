"""The search index lag: search trails writes per object type, reads by id never do.

The index's clock is injected, so a lag of many seconds costs no waiting.
"""

from __future__ import annotations

import time
from typing import Any

import hubspot
import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.store import PortalStore

pytestmark = pytest.mark.timeout(30)

DUE = "2026-11-28T15:00:00Z"


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(hubspot_box: HubSpotSandbox) -> Clock:
    fake = Clock()
    hubspot_box.store.index.clock = fake
    hubspot_box.limiter.search_per_second = 1000  # searches back to back here
    return fake


def search(client: hubspot.Client, object_type: str, name: str, value: str,
           operator: str = "EQ") -> list[str]:
    api = (client.crm.contacts if object_type == "contacts"
           else getattr(client.crm.objects, object_type))
    page = api.search_api.do_search(public_object_search_request={
        "filterGroups": [{"filters": [{"propertyName": name, "operator": operator,
                                       "value": value}]}],
        "properties": [name], "limit": 100})
    return [r.id for r in page.results]


def task_body(contact_id: str | None, **props: str) -> dict[str, Any]:
    associations = [] if contact_id is None else [{"to": {"id": contact_id}, "types": [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}]
    return {"properties": {"hs_timestamp": DUE, "hs_task_subject": "Call",
                           "hubspot_owner_id": "1001", **props},
            "associations": associations}


def tasks_of(client: hubspot.Client, contact_id: str) -> list[str]:
    """Contact -> task links through the v4 batch read (the associations API)."""
    read = client.crm.associations.v4.batch_api.get_page(
        "contacts", "tasks",
        batch_input_public_fetch_associations_batch_request={"inputs": [{"id": contact_id}]})
    return [str(t.to_object_id) for r in read.results for t in r.to]


def test_the_lag_is_per_object_type_and_search_only(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client, clock: Clock) -> None:
    hubspot_box.set_index_lag(8.0, "tasks")
    assert hubspot_box.index_lag == 0.0  # other types: no lag
    contact = hubspot_client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create={"properties": {"firstname": "Ida"}}).id
    assert search(hubspot_client, "contacts", "hs_object_id", contact) == [contact]

    tasks = hubspot_client.crm.objects.tasks
    task = tasks.basic_api.create(simple_public_object_input_for_create=task_body(
        contact, hs_task_body="leadrouter-ref:lead/1/v1/task")).id
    assert search(hubspot_client, "tasks", "associations.contact", contact) == []
    assert search(hubspot_client, "tasks", "hs_task_body", "leadrouter-ref:lead/1/v1/task",
                  "CONTAINS_TOKEN") == []
    # reads by id, batch reads and the associations API see the task at once
    assert tasks.basic_api.get_by_id(task).id == task
    read = tasks.batch_api.read(batch_read_input_simple_public_object_id={
        "inputs": [{"id": task}], "properties": ["hs_task_body"], "propertiesWithHistory": []})
    assert [r.properties["hs_task_body"] for r in read.results] == [
        "leadrouter-ref:lead/1/v1/task"]
    assert tasks_of(hubspot_client, contact) == [task]

    clock.advance(7.9)
    assert search(hubspot_client, "tasks", "associations.contact", contact) == []
    clock.advance(0.2)
    assert search(hubspot_client, "tasks", "associations.contact", contact) == [task]

    hubspot_box.index_lag = 3.0  # every type now, the per-type setting replaced
    other = hubspot_box.create_contact({"firstname": "Jo"})
    assert search(hubspot_client, "contacts", "hs_object_id", other) == []
    clock.advance(3.0)
    assert search(hubspot_client, "contacts", "hs_object_id", other) == [other]
    with pytest.raises(ValueError):
        hubspot_box.set_index_lag(1.0, "deals")
    per_type = PortalStore(index_lag={"tasks": 8.0, "calls": 2.0}).index
    assert [per_type.lag_of(t) for t in ("tasks", "calls", "contacts")] == [8.0, 2.0, 0.0]


def test_search_shows_the_previous_version_of_a_changed_record_until_the_lag_passes(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client, clock: Clock) -> None:
    contact = hubspot_box.create_contact({"firstname": "Kim", "hs_lead_status": "NEW"})
    hubspot_box.index_lag = 5.0
    api = hubspot_client.crm.contacts
    api.basic_api.update(contact, simple_public_object_input={
        "properties": {"hs_lead_status": "CONNECTED"}})
    assert api.basic_api.get_by_id(contact, properties=["hs_lead_status"]
                                   ).properties["hs_lead_status"] == "CONNECTED"
    assert search(hubspot_client, "contacts", "hs_lead_status", "CONNECTED") == []
    page = api.search_api.do_search(public_object_search_request={
        "filterGroups": [{"filters": [{"propertyName": "hs_lead_status", "operator": "EQ",
                                       "value": "NEW"}]}], "properties": ["hs_lead_status"]})
    assert [(r.id, r.properties["hs_lead_status"]) for r in page.results] == [
        (contact, "NEW")]
    clock.advance(2.0)
    hubspot_box.set_lead_status(contact, "BAD_TIMING")  # a second change: still the old one
    clock.advance(4.0)
    assert search(hubspot_client, "contacts", "hs_lead_status", "NEW") == [contact]
    clock.advance(1.0)
    assert search(hubspot_client, "contacts", "hs_lead_status", "NEW") == []
    assert search(hubspot_client, "contacts", "hs_lead_status", "BAD_TIMING") == [contact]


def test_a_new_association_filters_search_only_after_the_lag(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client, clock: Clock) -> None:
    contact = hubspot_box.create_contact({"firstname": "Lou"})
    hubspot_box.set_index_lag(4.0, "tasks")
    task = hubspot_client.crm.objects.tasks.basic_api.create(
        simple_public_object_input_for_create=task_body(None)).id
    clock.advance(4.0)
    hubspot_client.crm.associations.v4.basic_api.create_default("tasks", task, "contacts",
                                                                contact)
    assert tasks_of(hubspot_client, contact) == [task]
    assert search(hubspot_client, "tasks", "associations.contact", contact) == []
    clock.advance(4.0)
    assert search(hubspot_client, "tasks", "associations.contact", contact) == [task]


def test_the_v4_batch_read_pages_a_record_with_many_associations(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client, clock: Clock) -> None:
    contact = hubspot_box.create_contact({"firstname": "Max"})
    store = hubspot_box.store
    with store.lock:
        made = [store.create("tasks", {"hs_timestamp": DUE},
                             associations=[("contacts", contact, 204)]).id
                for _ in range(501)]
    batch = hubspot_client.crm.associations.v4.batch_api

    def page(after: str | None) -> Any:
        item = {"id": contact, **({"after": after} if after else {})}
        return batch.get_page("contacts", "tasks",
                              batch_input_public_fetch_associations_batch_request={
                                  "inputs": [item]}).results[0]

    first = page(None)
    assert len(first.to) == 500 and first.paging.next.after
    second = page(first.paging.next.after)
    assert second.paging is None
    seen = [str(t.to_object_id) for t in [*first.to, *second.to]]
    assert sorted(seen, key=int) == made
