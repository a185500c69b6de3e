"""Faults on demand through hubspot-api-client 12, and the duplicate-task bug they expose."""

from __future__ import annotations

import time
from collections import Counter

import hubspot
import pytest
import urllib3
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate
from hubspot.crm.objects.tasks.exceptions import ApiException as TaskApiException

from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox, RouteFault

pytestmark = pytest.mark.timeout(30)


def new_task(contact_id: str, marker: str) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2026-11-28T15:00:00Z", "hs_task_subject": "Call lead",
                    "hs_task_body": marker, "hubspot_owner_id": "1001"},
        associations=[{"to": {"id": contact_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}])


def test_errors_apply_nothing(hubspot_box: HubSpotSandbox,
                              hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Err"})
    hubspot_box.faults = Faults(error_rate=1.0, seed=1)
    statuses = set()
    for _ in range(6):
        with pytest.raises(ApiException) as err:
            hubspot_client.crm.contacts.basic_api.update(
                cid, simple_public_object_input=SimplePublicObjectInput(
                    properties={"hubspot_owner_id": "1001"}))
        statuses.add(err.value.status)
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    assert "hubspot_owner_id" not in hubspot_box.contact(cid)["properties"]
    assert {e.status for e in hubspot_box.request_log} == statuses


def test_latency_and_connection_resets(hubspot_box: HubSpotSandbox,
                                       hubspot_client: hubspot.Client) -> None:
    api = hubspot_client.crm.owners.owners_api
    hubspot_box.faults = Faults(latency=0.3)
    t0 = time.monotonic()
    api.get_page()
    assert time.monotonic() - t0 >= 0.3
    hubspot_box.faults = Faults(reset_rate=1.0)
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.get_page()
    assert hubspot_box.request_log[-1].status == 0
    hubspot_box.faults = Faults()
    assert api.get_page().results  # the pool recovers with a fresh connection


def test_ambiguous_write_is_applied_but_answered_502(
        hubspot_box: HubSpotSandbox, hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Amb"})
    hubspot_box.faults = Faults(ambiguous_rate=1.0)
    with pytest.raises(TaskApiException) as err:
        hubspot_client.crm.objects.tasks.basic_api.create(
            simple_public_object_input_for_create=new_task(cid, "k1"))
    assert err.value.status == 502
    assert [t["properties"]["hs_task_body"] for t in hubspot_box.tasks_for(cid)] == ["k1"]
    # Reads are never ambiguous: search (a POST) still answers.
    found = hubspot_client.crm.objects.tasks.search_api.do_search(
        public_object_search_request={"filterGroups": [{"filters": [
            {"propertyName": "hs_task_body", "operator": "EQ", "value": "k1"}]}]})
    assert found.total == 1


def naive_route(client: hubspot.Client, contact_ids: list[str], attempts: int = 4) -> None:
    """Creates one task per lead, retrying on any error, with no idempotency."""
    api = client.crm.objects.tasks.basic_api
    for cid in contact_ids:
        for _ in range(attempts):
            try:
                api.create(simple_public_object_input_for_create=new_task(cid, "follow up"))
                break
            except TaskApiException:
                continue


def careful_route(client: hubspot.Client, contact_ids: list[str], attempts: int = 8) -> None:
    """Marks each task with an idempotency key and searches for it before re-creating."""
    tasks = client.crm.objects.tasks
    for cid in contact_ids:
        key = f"leadrouter:lead/{cid}/v1/task"
        for attempt in range(attempts):
            if attempt:
                found = tasks.search_api.do_search(public_object_search_request={
                    "filterGroups": [{"filters": [
                        {"propertyName": "hs_task_body", "operator": "EQ", "value": key}]}]})
                if found.total:
                    break
            try:
                tasks.basic_api.create(simple_public_object_input_for_create=new_task(cid, key))
                break
            except TaskApiException:
                continue


def test_naive_router_creates_duplicate_tasks_under_ambiguous_writes() -> None:
    with HubSpotSandbox(search_per_second=1000) as box:
        box.seed_demo()
        contacts = [box.create_contact({"firstname": f"N{i}"}) for i in range(10)]
        client = hubspot.Client.create(access_token=box.token, host=box.base_url,
                                       ssl_ca_cert=box.ca_file,
                                       retry=urllib3.util.Retry(0, raise_on_status=False))
        box.faults = Faults(ambiguous_rate=0.5, seed=42)
        naive_route(client, contacts[:5])
        per_contact = Counter(c for t in box.all_tasks() for c in t["contact_ids"])
        assert max(per_contact[c] for c in contacts[:5]) > 1, "no duplicate exposed"
        assert sum(per_contact[c] for c in contacts[:5]) > 5

        careful_route(client, contacts[5:])
        assert [len(box.tasks_for(c)) for c in contacts[5:]] == [1] * 5
        assert any(e.status == 502 for e in box.request_log)


def test_route_faults_slow_or_refuse_one_endpoint(hubspot_box: HubSpotSandbox,
                                                  hubspot_client: hubspot.Client) -> None:
    cid = hubspot_box.create_contact({"firstname": "Route"})
    tasks = hubspot_client.crm.objects.tasks.basic_api
    create = "POST /crm/v3/objects/tasks"
    hubspot_box.route_faults[create] = RouteFault(status=503)
    with pytest.raises(TaskApiException) as err:
        tasks.create(simple_public_object_input_for_create=new_task(cid, "refused"))
    assert err.value.status == 503 and hubspot_box.tasks_for(cid) == []  # nothing applied
    hubspot_box.route_faults[create] = RouteFault(before=0.2, after=0.2)
    started = time.monotonic()
    made = tasks.create(simple_public_object_input_for_create=new_task(cid, "slow"))
    assert time.monotonic() - started >= 0.4
    assert [t["id"] for t in hubspot_box.tasks_for(cid)] == [made.id]
    started = time.monotonic()
    hubspot_client.crm.contacts.basic_api.get_by_id(cid)  # other endpoints: not slowed
    assert time.monotonic() - started < 0.2
