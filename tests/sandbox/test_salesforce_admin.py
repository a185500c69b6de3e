"""Admin surface of the Salesforce emulator: seeding, playing a coordinator, logs, outbound."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import zipcodes

from sandbox.salesforce import OUTBOUND_NS, SalesforceSandbox, parse_message
from sandbox.salesforce.seed import INSURANCE_TYPES, LEAD_SOURCES, LEVELS_OF_CARE

pytest_plugins = ["tests.sandbox.conftest_salesforce"]  # fixtures: sf_box, sf, ...

if TYPE_CHECKING:
    from tests.sandbox.conftest_salesforce import Client, LogWait, Receiver


def test_seed_demo_users_and_queues(sf_box: SalesforceSandbox) -> None:
    users = {u["Email"]: u for u in sf_box.users()}
    for handle in ("maria", "li", "james", "sofia", "devon", "aisha", "carlos", "priya", "dana"):
        user = users[f"{handle}@sunrise-recovery.example"]
        assert user["IsActive"] is True and user["Id"].startswith("005")
    assert users["maria@sunrise-recovery.example"]["Name"] == "Maria Lopez"
    assert users["dana@sunrise-recovery.example"]["Title"] == "Admissions Supervisor"
    assert [u for u in users.values() if not u["IsActive"]]
    queues = {q["Name"]: q["Id"] for q in sf_box.queues()}
    assert queues["Admissions Inbox"].startswith("00G")
    assert sf_box.assignment_rule_queue_id in queues.values()
    before = len(sf_box.users())
    sf_box.seed_demo()  # idempotent
    assert len(sf_box.users()) == before
    assert set(sf_box.coordinator_ids) == {"maria", "li", "james", "sofia", "devon", "aisha",
                                           "carlos", "priya"}


def test_seed_leads_mix(sf_box: SalesforceSandbox) -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    end = start + timedelta(days=2)
    ids = sf_box.seed_leads(400, owned_fraction=0.25, created_between=(start, end), rng_seed=9)
    leads = sf_box.leads()
    assert [r["Id"] for r in leads] == ids and all(i.startswith("00Q") for i in ids)

    def realistic(lead: dict[str, Any]) -> bool:
        # Checked without echoing values: synthetic contact data stays out of test output.
        return bool(
            zipcodes.matching(lead["PostalCode"])[0]["state"] == lead["State"]
            and lead["Email"].rsplit("@", 1)[1] in ("example.com", "example.org", "example.net")
            and "555-01" in lead["Phone"]
            and lead["Company"] and lead["LastName"] and lead["FirstName"]
            and lead["Status"] == "Open - Not Contacted"
            and "2026-11-20T" <= lead["CreatedDate"] < "2026-11-22T")

    assert [i for i, lead in enumerate(leads) if not realistic(lead)] == []
    assert {r["Insurance_Type__c"] for r in leads} == set(INSURANCE_TYPES)
    assert {r["Level_of_Care__c"] for r in leads} == set(LEVELS_OF_CARE)
    assert {r["LeadSource"] for r in leads} <= set(LEAD_SOURCES)
    assert {"CA", "AZ", "NV", "TX"} == {r["State"] for r in leads}
    owners = Counter(r["OwnerId"][:3] for r in leads)
    assert 60 <= owners["005"] <= 140 and owners["00G"] == 400 - owners["005"]
    queue_owned = {r["OwnerId"] for r in leads if r["OwnerId"].startswith("00G")}
    assert queue_owned == {sf_box.admissions_inbox_id}
    again = SalesforceSandbox()
    again.seed_leads(400, owned_fraction=0.25, created_between=(start, end), rng_seed=9)
    assert [r["Insurance_Type__c"] for r in again.leads()] == [
        r["Insurance_Type__c"] for r in leads]


def test_seed_contacts(sf_box: SalesforceSandbox) -> None:
    sf_box.seed_contacts(50)
    contacts = sf_box.contacts()
    assert len(contacts) == 50 and all(c["Id"].startswith("003") for c in contacts)
    assert {c["OwnerId"] for c in contacts} == {sf_box.user_id("intake")}
    assert all(zipcodes.is_real(c["MailingPostalCode"]) for c in contacts)


def test_coordinator_actions_visible_through_api(sf_box: SalesforceSandbox,
                                                 sf: Client) -> None:
    lead = sf_box.seed_leads(1)[0]
    maria, li = sf_box.user_id("maria"), sf_box.user_id("li")
    before = sf_box.get(lead)["SystemModstamp"]
    sf_box.set_owner(lead, maria, by="dana")  # by hand: no assignment rule
    assert sf_box.get(lead)["OwnerId"] == maria
    assert sf_box.get(lead)["LastModifiedById"] == sf_box.user_id("dana")
    assert sf_box.get(lead)["SystemModstamp"] >= before
    call = sf_box.log_call(lead, by="maria")
    tasks = sf.query(f"SELECT Id, OwnerId, Status, TaskSubtype, CreatedDate FROM Task "
                     f"WHERE WhoId = '{lead}' AND TaskSubtype = 'Call'")["records"]
    assert [(t["Id"], t["OwnerId"], t["Status"]) for t in tasks] == [(call, maria, "Completed")]
    assert sf.Lead.get(lead)["LastActivityDate"] == sf_box.store.now().date().isoformat()
    todo = sf.Task.create({"WhoId": lead, "OwnerId": li, "Subject": "Follow up"})["id"]
    sf_box.complete_task(todo, by="li")
    assert sf.Task.get(todo)["IsClosed"] is True
    sf_box.set_lead_status(lead, "Working - Contacted", by="maria")
    rows = sf.query(f"SELECT Status FROM Lead WHERE Id = '{lead}'")["records"]
    assert rows[0]["Status"] == "Working - Contacted"
    new = sf_box.create_lead(Insurance_Type__c="medicaid", State="AZ")
    assert sf_box.get(new)["OwnerId"] == sf_box.admissions_inbox_id


def test_request_log_and_counters(sf_box: SalesforceSandbox, sf: Client,
                                  sf_wait_log: LogWait) -> None:
    sf_box.clear_log()
    sf.query("SELECT Id FROM Lead")
    sf.Lead.create({"LastName": "S", "Company": "C"})
    log = sf_wait_log(sf_box, 2)
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/services/data/v59.0/query/", 200),
        ("POST", "/services/data/v59.0/sobjects/Lead/", 201)]
    assert all(e.at > 0 and e.duration >= 0 for e in log)
    assert sf_box.counters["query"] == 1 and sf_box.counters["sobject_create"] == 1
    assert sf_box.counters["api_calls"] == sf_box.api_calls == 2


def test_outbound_messages(sf_box: SalesforceSandbox, receiver: Receiver) -> None:
    ids = sf_box.seed_leads(150)
    deliveries = sf_box.send_outbound(receiver.url, ids, verify=receiver.server.ca_file)
    assert [len(d.record_ids) for d in deliveries] == [100, 50]
    assert all(d.status == 200 and d.acked for d in deliveries)
    messages = [parse_message(b) for b in receiver.bodies]
    assert receiver.bodies[0].count(OUTBOUND_NS.encode()) == 1
    assert {m["OrganizationId"] for m in messages} == {sf_box.organization_id}
    assert all(m["ActionId"].startswith("04k") for m in messages)
    notes = [n for m in messages for n in m["notifications"]]
    assert [n["sObject"]["Id"] for n in notes] == ids
    assert len({n["Id"] for n in notes}) == 150 and notes[0]["Id"].startswith("04l")
    assert notes[0]["sObject"]["OwnerId"] == sf_box.admissions_inbox_id


def test_outbound_duplicates_and_nack(sf_box: SalesforceSandbox, receiver: Receiver) -> None:
    ids = sf_box.seed_leads(3)
    deliveries = sf_box.send_outbound(receiver.url, ids, duplicates=2, shuffle_seed=1,
                                      verify=receiver.server.ca_file,
                                      fields=("Id", "OwnerId", "Insurance_Type__c"))
    assert len(deliveries) == 3 and len(receiver.bodies) == 3
    seen = [tuple(n["Id"] for n in parse_message(b)["notifications"]) for b in receiver.bodies]
    assert len(set(seen)) == 1  # the same notifications, delivered three times
    note = parse_message(receiver.bodies[0])["notifications"][0]["sObject"]
    assert set(note) == {"Id", "OwnerId", "Insurance_Type__c"}
    receiver.ack = False
    assert not sf_box.send_outbound(receiver.url, ids[:1],
                                    verify=receiver.server.ca_file)[0].acked
    down = sf_box.send_outbound("https://127.0.0.1:9/none", ids[:1], timeout=2)
    assert down[0].status == 0 and not down[0].acked


def test_outbound_on_create_after_commit(sf_box: SalesforceSandbox, sf: Client,
                                         receiver: Receiver) -> None:
    sf_box.enable_outbound(receiver.url, verify=receiver.server.ca_file,
                           fields=("Id", "OwnerId", "State"))
    single = sf.Lead.create({"LastName": "S", "Company": "C", "State": "AZ"})["id"]
    batch = [r["id"] for r in sf.restful("composite/sobjects", method="POST", json={
        "records": [{"attributes": {"type": "Lead"}, "LastName": f"S{i}", "Company": "C"}
                    for i in range(3)]})]
    rolled_back = sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": True, "records": [
            {"attributes": {"type": "Lead"}, "LastName": "S", "Company": "C"},
            {"attributes": {"type": "Lead"}, "Company": "C"}]})
    assert not any(r["success"] for r in rolled_back)
    by_hand = sf_box.create_lead(State="TX")
    sf.Contact.create({"LastName": "S"})  # not covered by the rule
    assert sf_box.flush_outbound(5)
    notes = [n for b in receiver.bodies for n in parse_message(b)["notifications"]]
    assert sorted(n["sObject"]["Id"] for n in notes) == sorted([single, *batch, by_hand])
    assert {n["type"] for n in notes} == {"sf:Lead"}
    first = next(n for n in notes if n["sObject"]["Id"] == single)
    assert first["sObject"]["State"] == "AZ"
    assert first["sObject"]["OwnerId"] == sf_box.assignment_rule_queue_id


def test_outbound_retries_until_acknowledged(sf_box: SalesforceSandbox,
                                             receiver: Receiver) -> None:
    receiver.ack = False
    sf_box.enable_outbound(receiver.url, verify=receiver.server.ca_file, retry_interval=0.05,
                           max_attempts=3, events=("update",))
    lead = sf_box.seed_leads(1)[0]  # a create: not announced
    sf_box.set_lead_status(lead, "Working - Contacted")
    assert sf_box.flush_outbound(5)
    messages = [parse_message(b) for b in receiver.bodies]
    assert len(messages) == 3  # at-least-once: the same notification, re-sent
    assert len({m["notifications"][0]["Id"] for m in messages}) == 1
    assert len(sf_box.dispatcher.failures) == 1
