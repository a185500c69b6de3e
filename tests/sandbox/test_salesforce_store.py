"""Record store of the Salesforce emulator: ids, validation, audit fields, side effects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.salesforce.schema import ApiError, format_datetime, id_suffix, make_id, to18
from sandbox.salesforce.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 4, 58, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Store:
    return Store(clock)


def test_ids_have_prefix_and_checksum() -> None:
    # A known id pair from Salesforce's documentation of the 15 -> 18 conversion.
    assert id_suffix("001A0000006Vm9r") == "IAC"
    rid = make_id("00Q", 12345)
    assert len(rid) == 18 and rid.startswith("00Q") and to18(rid[:15]) == rid
    assert re.fullmatch(r"[0-9A-Za-z]{18}", rid)
    assert len({make_id("003", i) for i in range(1000)}) == 1000


@pytest.mark.parametrize(("sobject", "values", "prefix"), [
    ("Lead", {"LastName": "L", "Company": "C"}, "00Q"),
    ("Contact", {"LastName": "L"}, "003"),
    ("Task", {"Subject": "Call"}, "00T"),
    ("User", {"LastName": "U", "Username": "u@x.example", "Email": "u@x.example"}, "005"),
])
def test_insert_prefixes(store: Store, sobject: str, values: dict[str, Any], prefix: str) -> None:
    assert store.insert(sobject, values).startswith(prefix)


def test_org_statuses_and_queue(store: Store) -> None:
    assert store.organization_id.startswith("00D")
    _, rows = store.query("SELECT MasterLabel, IsDefault FROM LeadStatus WHERE IsDefault = true")
    assert [r["MasterLabel"] for r in rows] == ["Open - Not Contacted"]
    _, orgs = store.query("SELECT Id FROM Organization")
    assert orgs[0]["Id"] == store.organization_id


def test_audit_fields_maintained(store: Store, clock: Clock) -> None:
    rid = store.insert("Lead", {"LastName": "L", "Company": "C"})
    rec = store.get("Lead", rid)
    assert rec is not None
    assert rec["CreatedDate"] == "2026-11-28T04:58:00.000+0000"
    assert rec["SystemModstamp"] == rec["LastModifiedDate"] == rec["CreatedDate"]
    assert rec["Status"] == "Open - Not Contacted" and rec["IsConverted"] is False
    assert rec["OwnerId"] == store.integration_user_id
    clock.now += timedelta(minutes=3, milliseconds=250)
    store.update("Lead", rid, {"Status": "Working - Contacted"})
    rec = store.get("Lead", rid)
    assert rec is not None
    assert rec["CreatedDate"] == "2026-11-28T04:58:00.000+0000"
    assert rec["SystemModstamp"] == rec["LastModifiedDate"] == "2026-11-28T05:01:00.250+0000"


def test_format_datetime_converts_to_utc() -> None:
    dt = datetime(2026, 11, 27, 20, 58, 0, 123999, tzinfo=UTC) + timedelta(hours=8)
    assert format_datetime(dt) == "2026-11-28T04:58:00.123+0000"


WRITE_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("Lead", {"Company": "C"}, "REQUIRED_FIELD_MISSING"),
    ("Lead", {"LastName": "L"}, "REQUIRED_FIELD_MISSING"),
    ("Lead", {"LastName": "L", "Company": "C", "Nope__c": 1}, "INVALID_FIELD"),
    ("Lead", {"LastName": "L", "Company": "C", "CreatedDate": "2026-01-01T00:00:00Z"},
     "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ("Lead", {"LastName": "L", "Company": "C", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS"),
    ("Lead", {"LastName": "L", "Company": "C", "OwnerId": "bogus"}, "MALFORMED_ID"),
    ("Lead", {"LastName": "L", "Company": "C", "OwnerId": make_id("005", 999999)},
     "INVALID_CROSS_REFERENCE_KEY"),
    ("Lead", {"LastName": "L", "Company": "C", "DoNotCall": "yes"}, "JSON_PARSER_ERROR"),
    ("Task", {"Subject": "s", "ActivityDate": "28/11/2026"}, "JSON_PARSER_ERROR"),
    ("Task", {"Subject": "s", "WhoId": make_id("00Q", 999999)}, "INVALID_CROSS_REFERENCE_KEY"),
    ("Group", {"Name": "Q"}, "INVALID_TYPE_FOR_OPERATION"),
]


@pytest.mark.parametrize(("sobject", "values", "code"), WRITE_ERRORS)
def test_write_errors(store: Store, sobject: str, values: dict[str, Any], code: str) -> None:
    with pytest.raises(ApiError) as info:
        store.insert(sobject, values)
    assert info.value.code == code and info.value.status == 400
    assert info.value.body()[0]["errorCode"] == code


def test_error_messages_do_not_echo_values(store: Store) -> None:
    with pytest.raises(ApiError) as info:
        store.insert("Lead", {"LastName": "L", "Company": "C", "Email": "secret-value"})
    assert "secret-value" not in str(info.value) and info.value.fields == ["Email"]


def test_owner_rules(store: Store) -> None:
    queue = store.insert("Group", {"Name": "Q", "DeveloperName": "Q", "Type": "Queue"},
                         admin=True)
    gone = store.insert("User", {"LastName": "Gone", "Username": "g@x.example",
                                 "Email": "g@x.example", "IsActive": False}, admin=True)
    store.insert("Lead", {"LastName": "L", "Company": "C", "OwnerId": queue})
    with pytest.raises(ApiError, match="INVALID_CROSS_REFERENCE_KEY"):
        store.insert("Contact", {"LastName": "L", "OwnerId": queue})
    with pytest.raises(ApiError, match="INACTIVE_OWNER_OR_USER"):
        store.insert("Lead", {"LastName": "L", "Company": "C", "OwnerId": gone})


def test_update_missing_record_and_required_null(store: Store) -> None:
    with pytest.raises(ApiError) as info:
        store.update("Lead", make_id("00Q", 4242), {"Status": "x"})
    assert info.value.status == 404 and info.value.code == "NOT_FOUND"
    rid = store.insert("Lead", {"LastName": "L", "Company": "C"})
    with pytest.raises(ApiError, match="REQUIRED_FIELD_MISSING"):
        store.update("Lead", rid, {"LastName": None})


def test_auto_assign_flag(store: Store) -> None:
    queue = store.insert("Group", {"Name": "R", "DeveloperName": "R", "Type": "Queue"},
                         admin=True)
    store.assignment_rule_queue_id = queue
    rid = store.insert("Lead", {"LastName": "L", "Company": "C"}, auto_assign=True)
    assert store.records["Lead"][rid]["OwnerId"] == queue
    store.update("Lead", rid, {"OwnerId": store.integration_user_id}, auto_assign=False)
    assert store.records["Lead"][rid]["OwnerId"] == store.integration_user_id
    contact = store.insert("Contact", {"LastName": "L"}, auto_assign=True)  # Leads only
    assert store.records["Contact"][contact]["OwnerId"] == store.integration_user_id


def test_closed_call_task_moves_last_activity(store: Store, clock: Clock) -> None:
    lead = store.insert("Lead", {"LastName": "L", "Company": "C"})
    stamp = store.records["Lead"][lead]["SystemModstamp"]
    task = store.insert("Task", {"WhoId": lead, "Subject": "Call", "TaskSubtype": "Call"})
    rec = store.records["Task"][task]
    assert rec["Status"] == "Not Started" and rec["IsClosed"] is False
    assert store.records["Lead"][lead]["LastActivityDate"] is None
    clock.now += timedelta(minutes=2)
    store.update("Task", task, {"Status": "Completed"})
    rec = store.records["Task"][task]
    assert rec["IsClosed"] is True and rec["CompletedDateTime"] == "2026-11-28T05:00:00.000+0000"
    assert store.records["Lead"][lead]["LastActivityDate"] == "2026-11-28"
    assert store.records["Lead"][lead]["SystemModstamp"] == stamp
    with pytest.raises(ApiError, match="INVALID_FIELD_FOR_INSERT_UPDATE"):
        store.update("Task", task, {"TaskSubtype": "Email"})


def test_transaction_rolls_back_everything(store: Store) -> None:
    kept = store.insert("Lead", {"LastName": "Keep", "Company": "C"})
    with pytest.raises(ApiError), store.transaction():
        store.update("Lead", kept, {"LastName": "Changed"})
        store.insert("Lead", {"LastName": "New", "Company": "C"})
        store.insert("Lead", {"Company": "C"})  # fails: LastName missing
    assert [r["LastName"] for r in store.records["Lead"].values()] == ["Keep"]
