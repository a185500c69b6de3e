"""The Salesforce emulator driven end to end through simple-salesforce over HTTPS."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import format_datetime

pytest_plugins = ["tests.sandbox.conftest_salesforce"]  # fixtures: sf_box, sf, ...

if TYPE_CHECKING:
    from tests.sandbox.conftest_salesforce import Client

NO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
BATCH_200 = {"Sforce-Query-Options": "batchSize=200"}


def error_code(exc: pytest.ExceptionInfo[Any]) -> str:
    content = exc.value.content
    assert isinstance(content, list), "error bodies are JSON lists"
    return str(content[0]["errorCode"])


# -- connection --------------------------------------------------------------------------------
@pytest.mark.skipif(not os.environ.get("REQUESTS_CA_BUNDLE"), reason="needs REQUESTS_CA_BUNDLE")
def test_session_verify_alone_is_overridden_by_environment(sf_box: SalesforceSandbox) -> None:
    session = requests.Session()
    session.verify = sf_box.ca_file  # ignored: REQUESTS_CA_BUNDLE wins while trust_env is on
    client = Salesforce(instance_url=sf_box.instance_url, session_id=sf_box.token,
                        session=session)
    with pytest.raises(requests.exceptions.SSLError):
        client.query("SELECT Id FROM Lead")


def test_instance_details(sf_box: SalesforceSandbox, sf: Client) -> None:
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", sf_box.instance_url)
    assert sf_box.base_url == sf_box.instance_url and os.path.exists(sf_box.ca_file)
    assert sf.base_url == f"{sf_box.instance_url}/services/data/v59.0/"
    orgs = sf.query("SELECT Id, Name FROM Organization")["records"]
    assert orgs[0]["Id"] == sf_box.organization_id


# -- query and paging --------------------------------------------------------------------------
def test_query_paging_follows_relative_next_records_url(sf_box: SalesforceSandbox,
                                                        sf: Client) -> None:
    sf_box.seed_leads(450)
    soql = "SELECT Id, CreatedDate FROM Lead ORDER BY CreatedDate, Id"
    first = sf.query(soql, headers=BATCH_200)
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    url = first["nextRecordsUrl"]
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[0-9A-Za-z]{15}-200", url)
    second = sf.query_more(url, identifier_is_url=True)
    assert len(second["records"]) == 200 and not second["done"]
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert len(third["records"]) == 50 and third["done"] and "nextRecordsUrl" not in third
    ids = [r["Id"] for page in (first, second, third) for r in page["records"]]
    assert len(set(ids)) == 450
    stamps = [r["CreatedDate"] for page in (first, second, third) for r in page["records"]]
    assert stamps == sorted(stamps)
    assert [r["Id"] for r in sf.query_all_iter(soql, headers=BATCH_200)] == ids
    assert sf_box.counters["query_more"] == 4


def test_batch_size_default_and_clamping(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf_box.seed_leads(250)
    assert len(sf.query("SELECT Id FROM Lead")["records"]) == 250  # default 2000
    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(small["records"]) == 200  # Salesforce's minimum
    sf_box.min_batch_size = 1
    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=100"})
    assert len(small["records"]) == 100 and small["nextRecordsUrl"].endswith("-100")


def test_query_like_a_connector_poll(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf_box.seed_leads(120, owned_fraction=0.25, rng_seed=3)
    leads = sf_box.leads()
    cursor = sorted(r["CreatedDate"] for r in leads)[40]
    soql = (
        "SELECT Id, OwnerId, Owner.Type, CreatedDate, State, PostalCode, LeadSource, "
        "Insurance_Type__c, Level_of_Care__c FROM Lead "
        f"WHERE CreatedDate >= {cursor} AND (OwnerId IN "
        "(SELECT Id FROM Group WHERE Type = 'Queue') OR Owner.Type = 'Queue') "
        "AND IsConverted = false ORDER BY CreatedDate ASC, Id ASC LIMIT 2000"
    )
    got = sf.query_all(soql)["records"]
    expected = [r["Id"] for r in leads
                if r["CreatedDate"] >= cursor and r["OwnerId"].startswith("00G")]
    assert [r["Id"] for r in got] == expected
    assert all(r["Owner"]["Type"] == "Queue" for r in got)
    count = sf.query("SELECT COUNT() FROM Lead WHERE Owner.Type = 'User'")
    assert count["totalSize"] == sum(1 for r in leads if r["OwnerId"].startswith("005"))
    assert count["records"] == []


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE A__c = 1 AND B__c = 2 OR C__c = 3", "MALFORMED_QUERY"),
    ("SELECT Nope__c FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE CreatedDate > '2026-11-28T00:00:00Z'", "INVALID_FIELD"),
    ("SELECT Id FROM Leed", "INVALID_TYPE"),
])
def test_query_errors(sf: Client, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query(soql)
    assert error_code(info) == code and info.value.status == 400


def test_invalid_query_locator(sf: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_more("/services/data/v59.0/query/01g8c0000000099AAA-200",
                      identifier_is_url=True)
    assert error_code(info) == "INVALID_QUERY_LOCATOR"


def test_users_and_queues_queries(sf: Client, sf_box: SalesforceSandbox) -> None:
    users = sf.query_all("SELECT Id, Name, Email, IsActive, TimeZoneSidKey FROM User "
                         "WHERE IsActive = true ORDER BY Name")["records"]
    emails = {u["Email"] for u in users}
    assert "maria@sunrise-recovery.example" in emails
    assert "jordan@sunrise-recovery.example" not in emails  # inactive
    maria = next(u for u in users if u["Email"].startswith("maria@"))
    assert maria["Name"] == "Maria Lopez" and maria["Id"].startswith("005")
    queues = sf.query("SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue'")
    by_name = {q["Name"]: q["Id"] for q in queues["records"]}
    assert by_name["Admissions Inbox"] == sf_box.admissions_inbox_id
    assert sf_box.assignment_rule_queue_id in by_name.values()
    statuses = sf.query("SELECT MasterLabel, IsDefault FROM LeadStatus ORDER BY SortOrder")
    assert statuses["records"][0]["MasterLabel"] == "Open - Not Contacted"
    assert statuses["records"][0]["IsDefault"] is True


# -- sObject rows ------------------------------------------------------------------------------
def test_sobject_create_get_update(sf_box: SalesforceSandbox, sf: Client) -> None:
    maria, li = sf_box.user_id("maria"), sf_box.user_id("li")
    created = sf.Lead.create({"LastName": "Sample", "Company": "[not provided]",
                              "OwnerId": maria, "Insurance_Type__c": "ppo"}, headers=NO_ASSIGN)
    assert created["success"] is True and created["id"].startswith("00Q")
    lead = sf.Lead.get(created["id"])
    assert lead["OwnerId"] == maria and lead["Status"] == "Open - Not Contacted"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", lead["CreatedDate"])
    assert sf.Lead.update(created["id"], {"OwnerId": li}, headers=NO_ASSIGN) == 204
    assert sf_box.get(created["id"])["OwnerId"] == li
    part = sf.restful(f"sobjects/Lead/{created['id']}", params={"fields": "Id,OwnerId"})
    assert part is not None and set(part) == {"attributes", "Id", "OwnerId"}
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Lead.get("00Q8c0000000000AAA")
    assert error_code(info) == "NOT_FOUND"


def test_contact_task_user_objects(sf_box: SalesforceSandbox, sf: Client) -> None:
    maria = sf_box.user_id("maria")
    contact = sf.Contact.create({"LastName": "Sample", "OwnerId": maria})["id"]
    assert contact.startswith("003")
    task = sf.Task.create({"WhoId": contact, "OwnerId": maria, "Subject": "Call within SLA",
                           "Description": "lead/003/v1/task", "ActivityDate": "2026-11-28",
                           "Priority": "High", "Status": "Not Started"})["id"]
    assert task.startswith("00T")
    assert sf.Task.update(task, {"Status": "Completed"}) == 204
    rec = sf.Task.get(task)
    assert rec["IsClosed"] is True and rec["TaskSubtype"] == "Task"
    assert sf.Contact.get(contact)["LastActivityDate"] == "2026-11-28"
    # As in a real org, a long text area (Description) cannot be filtered or sorted: a task
    # marker must be searched via WhoId/Subject and compared client-side.
    for soql in ("SELECT Id FROM Task WHERE Description = 'lead/003/v1/task'",
                 "SELECT Id FROM Task ORDER BY Description"):
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.query(soql)
        assert error_code(info) == "INVALID_FIELD"
    found = sf.query(f"SELECT Id, Description FROM Task WHERE WhoId = '{contact}' "
                     "AND Subject LIKE 'Call%'")
    assert [(r["Id"], r["Description"]) for r in found["records"]] == [(task, "lead/003/v1/task")]
    user = sf.User.create({"LastName": "New", "Username": "new@sunrise-recovery.example",
                           "Email": "new@sunrise-recovery.example"})["id"]
    assert user.startswith("005")
    sf.User.update(user, {"IsActive": False})
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.create({"LastName": "S", "Company": "C", "OwnerId": user}, headers=NO_ASSIGN)
    assert error_code(info) == "INACTIVE_OWNER_OR_USER"


@pytest.mark.parametrize(("body", "code"), [
    ({"Company": "C"}, "REQUIRED_FIELD_MISSING"),
    ({"LastName": "S", "Company": "C", "Favourite_Color__c": "x"}, "INVALID_FIELD"),
    ({"LastName": "S", "Company": "C", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ({"LastName": "S", "Company": "C", "OwnerId": "not-an-id"}, "MALFORMED_ID"),
])
def test_create_errors(sf: Client, body: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.create(body)
    assert error_code(info) == code


def test_describe_lists_custom_fields(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf_box.add_custom_field("Lead", "LeadRouter_Rule__c")
    names = {f["name"] for f in sf.Lead.describe()["fields"]}
    assert {"Insurance_Type__c", "Level_of_Care__c", "LeadRouter_Rule__c"} <= names


# -- the assignment-rule trap ------------------------------------------------------------------
def test_auto_assign_trap(sf_box: SalesforceSandbox, sf: Client) -> None:
    maria = sf_box.user_id("maria")
    trap = sf_box.assignment_rule_queue_id
    lead = sf.Lead.create({"LastName": "S", "Company": "C", "OwnerId": maria})["id"]
    assert sf_box.get(lead)["OwnerId"] == trap  # the rule overwrote the owner we sent
    sf.Lead.update(lead, {"OwnerId": maria})
    assert sf_box.get(lead)["OwnerId"] == trap
    sf.Lead.update(lead, {"OwnerId": maria}, headers={"Sforce-Auto-Assign": "false"})
    assert sf_box.get(lead)["OwnerId"] == maria
    sf.Lead.update(lead, {"Status": "Working - Contacted"})  # any save without the header
    assert sf_box.get(lead)["OwnerId"] == trap
    records = [{"attributes": {"type": "Lead"}, "id": lead, "OwnerId": maria}]
    sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert sf_box.get(lead)["OwnerId"] == trap
    sf.restful("composite/sobjects", method="PATCH", json={"records": records},
               headers=NO_ASSIGN)
    assert sf_box.get(lead)["OwnerId"] == maria
    sf_box.assignment_rule_active = False
    sf.Lead.update(lead, {"Status": "Open - Not Contacted"})
    assert sf_box.get(lead)["OwnerId"] == maria


# -- sObject Collections -----------------------------------------------------------------------
def test_composite_sobjects_save_results(sf_box: SalesforceSandbox, sf: Client) -> None:
    leads = sf_box.seed_leads(3)
    li = sf_box.user_id("li")
    records: list[dict[str, Any]] = [
        {"attributes": {"type": "Lead"}, "id": leads[0], "OwnerId": li},
        {"attributes": {"type": "Lead"}, "id": leads[1], "Bogus__c": 1},
        {"attributes": {"type": "Lead"}, "id": leads[2], "OwnerId": li},
    ]
    results = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": False, "records": records}, headers=NO_ASSIGN)
    assert [r["success"] for r in results] == [True, False, True]
    assert [r["id"] for r in results] == leads
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert sf_box.get(leads[0])["OwnerId"] == li and sf_box.get(leads[2])["OwnerId"] == li
    created = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Task"}, "WhoId": leads[0], "OwnerId": li, "Subject": "Call"},
        {"attributes": {"type": "Task"}, "WhoId": leads[1], "OwnerId": li, "Subject": "Call"},
    ]})
    assert all(r["success"] and r["id"].startswith("00T") for r in created)
    fetched = sf.restful("composite/sobjects/Lead",
                         params={"ids": f"{leads[0]},00Q8c0000000000AAA", "fields": "OwnerId"})
    assert fetched[0]["OwnerId"] == li and fetched[1] is None


def test_composite_sobjects_all_or_none(sf_box: SalesforceSandbox, sf: Client) -> None:
    leads = sf_box.seed_leads(2)
    li = sf_box.user_id("li")
    before = [sf_box.get(i)["OwnerId"] for i in leads]
    results = sf.restful("composite/sobjects", method="PATCH", headers=NO_ASSIGN, json={
        "allOrNone": True, "records": [
            {"attributes": {"type": "Lead"}, "id": leads[0], "OwnerId": li},
            {"attributes": {"type": "Lead"}, "id": leads[1], "OwnerId": "005bogus"},
        ]})
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert [sf_box.get(i)["OwnerId"] for i in leads] == before


def test_composite_sobjects_200_record_limit(sf_box: SalesforceSandbox, sf: Client) -> None:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"S{i}", "Company": "C"}
               for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert error_code(info) == "EXCEEDED_ID_LIMIT"
    results = sf.restful("composite/sobjects", method="POST", json={"records": records[:200]},
                         headers=NO_ASSIGN)
    assert len(results) == 200 and all(r["success"] for r in results)
    assert len(sf_box.leads()) == 200


# -- composite ---------------------------------------------------------------------------------
def test_composite_with_references(sf_box: SalesforceSandbox, sf: Client) -> None:
    maria = sf_box.user_id("maria")
    base = "/services/data/v59.0"
    calls_before = sf_box.api_calls
    resp = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "newLead",
         "body": {"LastName": "S", "Company": "C", "OwnerId": maria},
         "httpHeaders": NO_ASSIGN},
        {"method": "POST", "url": f"{base}/sobjects/Task", "referenceId": "task",
         "body": {"WhoId": "@{newLead.id}", "OwnerId": maria, "Subject": "Call"}},
        {"method": "GET", "url": f"{base}/query?q=SELECT+Id,OwnerId+FROM+Lead+WHERE+Id"
                                 "+=+'@{newLead.id}'", "referenceId": "q"},
        {"method": "PATCH", "url": f"{base}/sobjects/Lead/@{{q.records[0].Id}}",
         "referenceId": "upd", "body": {"Status": "Working - Contacted"},
         "httpHeaders": NO_ASSIGN},
    ]})
    subs = {r["referenceId"]: r for r in resp["compositeResponse"]}
    assert [r["httpStatusCode"] for r in resp["compositeResponse"]] == [201, 201, 200, 204]
    lead = subs["newLead"]["body"]["id"]
    assert subs["q"]["body"]["records"][0]["OwnerId"] == maria
    assert sf_box.tasks(lead)[0]["Id"] == subs["task"]["body"]["id"]
    assert sf_box.get(lead)["Status"] == "Working - Contacted"
    assert sf_box.api_calls == calls_before + 1  # one call for the whole composite


def test_composite_all_or_none_rolls_back(sf_box: SalesforceSandbox, sf: Client) -> None:
    base = "/services/data/v59.0"
    resp = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "a",
         "body": {"LastName": "S", "Company": "C"}},
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "b",
         "body": {"Company": "C"}},
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "c",
         "body": {"LastName": "S", "Company": "C"}},
    ]})
    codes = [(r["httpStatusCode"], r["body"][0]["errorCode"]) for r in resp["compositeResponse"]]
    assert codes == [(400, "PROCESSING_HALTED"), (400, "REQUIRED_FIELD_MISSING"),
                     (400, "PROCESSING_HALTED")]
    assert sf_box.leads() == []
    resp = sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "a",
         "body": {"LastName": "S", "Company": "C"}},
        {"method": "POST", "url": f"{base}/sobjects/Lead", "referenceId": "b",
         "body": {"Company": "C"}},
    ]})
    assert [r["httpStatusCode"] for r in resp["compositeResponse"]] == [201, 400]
    assert len(sf_box.leads()) == 1


def test_composite_limits(sf: Client) -> None:
    base = "/services/data/v59.0"
    get = {"method": "GET", "url": f"{base}/limits", "referenceId": "x"}
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite", method="POST", json={"compositeRequest": [get] * 26})
    assert error_code(info) == "LIMIT_EXCEEDED"
    resp = sf.restful("composite", method="POST", json={"compositeRequest": [get] * 25})
    assert len(resp["compositeResponse"]) == 25
    query = {"method": "GET", "url": f"{base}/query?q=SELECT+Id+FROM+Lead", "referenceId": "q"}
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": [query] * 6})


# -- limits and auth ---------------------------------------------------------------------------
def test_limits_and_limit_info_header(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 1
    assert sf.api_usage["api-usage"].total == 15000
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 2}
    raw = sf.session.get(f"{sf.base_url}nope", headers=sf.headers)
    assert raw.status_code == 404 and raw.headers["Sforce-Limit-Info"] == "api-usage=3/15000"
    assert raw.json()[0]["errorCode"] == "NOT_FOUND"


def test_daily_limit_refuses_with_403(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf_box.daily_limit = 3
    for _ in range(3):
        sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Lead")
    assert info.value.status == 403 and error_code(info) == "REQUEST_LIMIT_EXCEEDED"
    body: Any = info.value.content
    assert body[0]["message"] == "TotalRequests Limit exceeded."
    with pytest.raises(SalesforceRefusedRequest):
        sf.Lead.create({"LastName": "S", "Company": "C"})
    assert sf_box.leads() == [] and sf_box.counters["limit_exceeded"] == 2
    sf_box.reset_api_usage()
    sf.query("SELECT Id FROM Lead")


def test_bad_token_is_401_invalid_session(sf_box: SalesforceSandbox,
                                          sf_client_for: Callable[..., Client]) -> None:
    client = sf_client_for(sf_box, token="00Dexpired!token")
    with pytest.raises(SalesforceExpiredSession) as info:
        client.query("SELECT Id FROM Lead")
    assert info.value.status == 401 and error_code(info) == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession):
        client.Lead.create({"LastName": "S", "Company": "C"})
    assert sf_box.api_calls == 0 and sf_box.counters["invalid_session"] == 2


def test_datetime_cursor_round_trip(sf_box: SalesforceSandbox, sf: Client) -> None:
    ids = sf_box.seed_leads(30, rng_seed=5)
    newest = sf_box.get(ids[-1])["CreatedDate"]
    got = sf.query(f"SELECT Id FROM Lead WHERE CreatedDate >= {newest} ORDER BY CreatedDate")
    assert [r["Id"] for r in got["records"]] == [ids[-1]]
    start = sf_box.store.now() - timedelta(hours=48)
    got = sf.query(f"SELECT COUNT() FROM Lead WHERE SystemModstamp > {format_datetime(start)}")
    assert got["totalSize"] == 30


# -- malformed and unusual requests ------------------------------------------------------------
RAW_CASES: list[tuple[str, str, Any, int, str | None]] = [
    ("POST", "sobjects/Lead", b"not json", 400, "JSON_PARSER_ERROR"),
    ("POST", "sobjects/Lead", b"[1, 2]", 400, "JSON_PARSER_ERROR"),
    ("PUT", "sobjects/Lead/00Q8c0000000000AAA", b"{}", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "sobjects/Nope__c/00Q8c0000000000AAA", None, 404, "NOT_FOUND"),
    ("POST", "sobjects/LeadStatus", b'{"MasterLabel": "x"}', 400, "INVALID_TYPE_FOR_OPERATION"),
    ("GET", "query", None, 400, "MALFORMED_QUERY"),
    ("POST", "query", b"{}", 405, "METHOD_NOT_ALLOWED"),
    ("POST", "composite", b'{"compositeRequest": "x"}', 400, "JSON_PARSER_ERROR"),
    ("POST", "composite/sobjects", b'{"records": {}}', 400, "JSON_PARSER_ERROR"),
    ("GET", "no/such/resource", None, 404, "NOT_FOUND"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), RAW_CASES,
                         ids=[f"{c[0]} {c[1]} {c[3]}" for c in RAW_CASES])
def test_raw_requests(sf: Client, method: str, path: str, body: bytes | None, status: int,
                      code: str | None) -> None:
    resp = sf.session.request(method, sf.base_url + path, data=body, headers=sf.headers)
    assert resp.status_code == status
    assert resp.json()[0]["errorCode"] == code
    assert "Sforce-Limit-Info" in resp.headers


def test_versions_delete_and_odd_composites(sf_box: SalesforceSandbox, sf: Client) -> None:
    versions = sf.session.get(f"{sf_box.instance_url}/services/data/")  # no token needed
    assert versions.status_code == 200 and versions.json()[0]["version"] == "59.0"
    newer = sf.session.get(f"{sf_box.instance_url}/services/data/v99.0/limits",
                           headers=sf.headers)
    assert newer.status_code == 404
    lead = sf_box.seed_leads(1)[0]
    assert sf.Lead.delete(lead) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(lead)
    resp = sf.restful("composite", method="POST", json={"compositeRequest": [
        "not an object",
        {"method": "GET", "url": "/services/data/v59.0/sobjects/Lead/@{missing.id}",
         "referenceId": "x"},
        {"method": "GET", "url": "/elsewhere", "referenceId": "y"},
    ]})
    assert [r["httpStatusCode"] for r in resp["compositeResponse"]] == [400, 400, 400]
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        "x", {"LastName": "S", "Company": "C"},
        {"attributes": {"type": "Lead"}, "id": lead, "LastName": "S", "Company": "C"}]})
    assert [r["success"] for r in results] == [False, False, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"


def test_concurrent_clients(sf_box: SalesforceSandbox, sf_client_for: Callable[..., Client]
                            ) -> None:
    lead_ids = sf_box.seed_leads(50)
    maria = sf_box.user_id("maria")
    errors: list[str] = []

    def worker(n: int) -> None:
        client = sf_client_for(sf_box)
        try:
            for i in range(15):
                target = lead_ids[(n * 15 + i) % len(lead_ids)]
                client.Lead.update(target, {"OwnerId": maria}, headers=NO_ASSIGN)
                client.Task.create({"WhoId": target, "OwnerId": maria, "Subject": f"T{n}-{i}"})
                rows = client.query_all_iter("SELECT Id, Owner.Name FROM Lead ORDER BY Id",
                                             headers={"Sforce-Query-Options": "batchSize=200"})
                assert sum(1 for _ in rows) == 50
        except Exception as exc:  # collected: assertion below names the type only
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(sf_box.tasks()) == 90
    assert all(r["OwnerId"] == maria for r in sf_box.leads()[:50])
