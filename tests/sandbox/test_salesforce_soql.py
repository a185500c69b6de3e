"""SOQL subset: parser tables and evaluation against the emulator's record store (no HTTP)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from sandbox.salesforce.schema import ApiError, Field
from sandbox.salesforce.soql import BoolOp, Comparison, Not, RelativeDate, SoqlError, parse
from sandbox.salesforce.store import Store

NOW = datetime(2026, 11, 28, 4, 58, tzinfo=UTC)


# -- parser ------------------------------------------------------------------------------------
PARSE_OK: list[tuple[str, dict[str, Any]]] = [
    ("SELECT Id FROM Lead", {"fields": ["Id"], "sobject": "Lead", "where": None}),
    ("select id, Name , Owner.Name from lead", {"fields": ["id", "Name", "Owner.Name"]}),
    ("SELECT COUNT() FROM Lead", {"count_only": True, "fields": []}),
    ("SELECT Id FROM Lead LIMIT 10 OFFSET 5", {"limit": 10, "offset": 5}),
    ("SELECT Id FROM Lead WHERE Status = 'Open - Not Contacted'",
     {"where": Comparison("Status", "=", "Open - Not Contacted")}),
    ("SELECT Id FROM Lead WHERE Name = 'O\\'Brien \\\\ x'",
     {"where": Comparison("Name", "=", "O'Brien \\ x")}),
    ("SELECT Id FROM Lead WHERE Score__c >= -1.5",
     {"where": Comparison("Score__c", ">=", -1.5)}),
    ("SELECT Id FROM Lead WHERE Score__c <> 3", {"where": Comparison("Score__c", "!=", 3)}),
    ("SELECT Id FROM User WHERE IsActive = TRUE", {"where": Comparison("IsActive", "=", True)}),
    ("SELECT Id FROM Lead WHERE Email = null", {"where": Comparison("Email", "=", None)}),
    ("SELECT Id FROM Task WHERE ActivityDate < 2026-11-28",
     {"where": Comparison("ActivityDate", "<", date(2026, 11, 28))}),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-28T04:58:00Z",
     {"where": Comparison("CreatedDate", ">", NOW)}),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-28T04:58:00.000+0000",
     {"where": Comparison("CreatedDate", ">", NOW)}),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-27T20:58:00-08:00",
     {"where": Comparison("CreatedDate", ">", NOW)}),
    ("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:7",
     {"where": Comparison("CreatedDate", "=", RelativeDate("LAST_N_DAYS", 7))}),
    ("SELECT Id FROM Lead WHERE State IN ('CA', 'AZ')",
     {"where": Comparison("State", "IN", ["CA", "AZ"])}),
    ("SELECT Id FROM Lead WHERE State NOT IN ('CA')",
     {"where": Comparison("State", "NOT IN", ["CA"])}),
    ("SELECT Id FROM Lead WHERE Email LIKE '%@example.com'",
     {"where": Comparison("Email", "LIKE", "%@example.com")}),
    ("SELECT Id FROM Lead WHERE A__c = 'x' AND B__c = 'y' AND C__c = 'z'",
     {"where": BoolOp("AND", [Comparison("A__c", "=", "x"), Comparison("B__c", "=", "y"),
                              Comparison("C__c", "=", "z")])}),
    ("SELECT Id FROM Lead WHERE (A__c = 1 OR B__c = 2) AND NOT C__c = 3",
     {"where": BoolOp("AND", [BoolOp("OR", [Comparison("A__c", "=", 1),
                                            Comparison("B__c", "=", 2)]),
                              Not(Comparison("C__c", "=", 3))])}),
]


@pytest.mark.parametrize(("soql", "expected"), PARSE_OK, ids=[c[0][:60] for c in PARSE_OK])
def test_parse_ok(soql: str, expected: dict[str, Any]) -> None:
    q = parse(soql)
    for key, value in expected.items():
        assert getattr(q, key) == value, key


def test_parse_order_by_several_fields() -> None:
    q = parse("SELECT Id FROM Lead ORDER BY CreatedDate ASC, State DESC NULLS LAST, Id")
    assert [(o.field, o.descending, o.nulls_last) for o in q.order_by] == [
        ("CreatedDate", False, False), ("State", True, True), ("Id", False, False)]


def test_parse_semi_join() -> None:
    q = parse("SELECT Id FROM Lead WHERE Id IN (SELECT WhoId FROM Task WHERE Status = 'x')")
    assert isinstance(q.where, Comparison)
    assert q.where.value.sobject == "Task"


PARSE_BAD = [
    "",
    "SELECT FROM Lead",
    "SELECT Id Lead",
    "SELECT Id FROM Lead WHERE",
    "SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3",  # AND/OR mix needs parentheses
    "SELECT Id FROM Lead WHERE (A = 1",
    "SELECT Id FROM Lead WHERE A = ",
    "SELECT Id FROM Lead WHERE A IN ()",
    "SELECT Id FROM Lead WHERE A LIKE 3",
    "SELECT Id FROM Lead WHERE A = 'unterminated",
    "SELECT Id FROM Lead WHERE A = 'bad \\q escape'",
    "SELECT Id FROM Lead LIMIT -1",
    "SELECT Id FROM Lead LIMIT 1.5",
    "SELECT Id FROM Lead ORDER BY",
    "SELECT Id FROM Lead extra",
    "SELECT COUNT(Id) FROM Lead",
    "SELECT Id FROM Lead WHERE D = 2026-13-45",
    "SELECT Id FROM Lead WHERE Id IN (SELECT Id, Name FROM Task)",
    "SELECT Id FROM Lead GROUP BY State",
]


@pytest.mark.parametrize("soql", PARSE_BAD)
def test_parse_errors(soql: str) -> None:
    with pytest.raises(SoqlError) as info:
        parse(soql)
    assert info.value.code == "MALFORMED_QUERY"


# -- evaluation through the store --------------------------------------------------------------
@pytest.fixture
def store() -> Store:
    st = Store(lambda: NOW)
    st.schema("Lead").add(Field("Score__c", "double"))
    queue = st.insert("Group", {"Name": "Inbox", "DeveloperName": "Inbox", "Type": "Queue"},
                      admin=True)
    user = st.insert("User", {"Username": "u@x.example", "Email": "u@x.example",
                              "LastName": "Coordinator"}, admin=True)
    rows = [  # LastName, State, Score, Email, CreatedDate, owner
        ("L1", "CA", 10.0, "a@example.com", "2026-11-27T01:00:00Z", queue),
        ("L2", "AZ", 20.0, None, "2026-11-27T02:00:00Z", user),
        ("L3", "CA", None, "c@example.org", "2026-11-28T01:00:00Z", queue),
        ("L4", None, 5.0, "d@Example.com", "2026-11-20T01:00:00Z", user),
        ("L5", "tx", 20.0, "e_x@example.net", "2026-11-28T04:00:00Z", queue),
    ]
    for name, state, score, email, created, owner in rows:
        st.insert("Lead", {"LastName": name, "Company": "C", "State": state, "Score__c": score,
                           "Email": email, "CreatedDate": created, "OwnerId": owner}, admin=True)
    return st


def names(store: Store, soql: str) -> list[str]:
    _, rows = store.query(soql)
    return [r["LastName"] for r in rows]


EVAL: list[tuple[str, list[str]]] = [
    ("", ["L1", "L2", "L3", "L4", "L5"]),
    ("WHERE State = 'ca'", ["L1", "L3"]),  # string equality is case-insensitive
    ("WHERE State != 'CA'", ["L2", "L4", "L5"]),  # null counts as different
    ("WHERE State = null", ["L4"]),
    ("WHERE State != null", ["L1", "L2", "L3", "L5"]),
    ("WHERE Score__c > 10", ["L2", "L5"]),
    ("WHERE Score__c >= 10", ["L1", "L2", "L5"]),
    ("WHERE Score__c < 10", ["L4"]),  # null never compares
    ("WHERE Score__c <= 10.0", ["L1", "L4"]),
    ("WHERE State IN ('CA', 'TX')", ["L1", "L3", "L5"]),
    ("WHERE State NOT IN ('CA', 'TX')", ["L2", "L4"]),  # nulls included, as with !=
    ("WHERE Email LIKE '%@example.com'", ["L1", "L4"]),
    ("WHERE Email LIKE 'e\\_x%'", ["L5"]),
    ("WHERE Email LIKE '_@%'", ["L1", "L3", "L4"]),
    ("WHERE State = 'CA' AND Score__c = 10", ["L1"]),
    ("WHERE State = 'AZ' OR Score__c = 5", ["L2", "L4"]),
    ("WHERE (State = 'CA' OR State = 'AZ') AND Score__c != null", ["L1", "L2"]),
    ("WHERE NOT (State = 'CA' OR State = null)", ["L2", "L5"]),
    ("WHERE CreatedDate >= 2026-11-28T00:00:00Z", ["L3", "L5"]),
    ("WHERE CreatedDate < 2026-11-27T01:30:00.000+0000", ["L1", "L4"]),
    ("WHERE CreatedDate >= 2026-11-26T18:00:00-08:00", ["L2", "L3", "L5"]),
    ("WHERE CreatedDate > 2026-11-26T18:00:00-08:00", ["L3", "L5"]),
    ("WHERE CreatedDate = TODAY", ["L3", "L5"]),
    ("WHERE CreatedDate = YESTERDAY", ["L1", "L2"]),
    ("WHERE CreatedDate = LAST_N_DAYS:1", ["L1", "L2", "L3", "L5"]),
    ("WHERE CreatedDate < LAST_N_DAYS:7", ["L4"]),
    ("WHERE CreatedDate < LAST_N_DAYS:8", []),
    ("WHERE Owner.Type = 'Queue'", ["L1", "L3", "L5"]),
    ("WHERE Owner.Name = 'Coordinator'", ["L2", "L4"]),
    ("WHERE OwnerId IN (SELECT Id FROM Group WHERE Type = 'Queue')", ["L1", "L3", "L5"]),
    ("ORDER BY Score__c DESC, LastName", ["L2", "L5", "L1", "L4", "L3"]),
    ("ORDER BY Score__c ASC NULLS LAST, LastName DESC", ["L4", "L1", "L5", "L2", "L3"]),
    ("ORDER BY State", ["L4", "L2", "L1", "L3", "L5"]),  # nulls first; case-insensitive
    ("ORDER BY CreatedDate DESC LIMIT 2", ["L5", "L3"]),
    ("ORDER BY CreatedDate LIMIT 2 OFFSET 1", ["L1", "L2"]),
]


@pytest.mark.parametrize(("tail", "expected"), EVAL, ids=[c[0] or "all" for c in EVAL])
def test_evaluate(store: Store, tail: str, expected: list[str]) -> None:
    got = names(store, f"SELECT Id, LastName FROM Lead {tail}")
    assert got == expected if "ORDER BY" in tail else sorted(got) == expected


def test_id_matches_15_and_18_characters(store: Store) -> None:
    lead = next(iter(store.records["Lead"].values()))
    for literal in (lead["Id"], lead["Id"][:15]):
        assert names(store, f"SELECT LastName FROM Lead WHERE Id = '{literal}'") == ["L1"]


def test_projection_and_relationships(store: Store) -> None:
    _, rows = store.query("SELECT id, lastname, Owner.Name, Owner.Type, CreatedDate "
                          "FROM lead WHERE LastName = 'L2'")
    row = rows[0]
    assert list(row) == ["attributes", "Id", "LastName", "Owner", "CreatedDate"]
    assert row["attributes"]["type"] == "Lead"
    assert row["attributes"]["url"] == f"/services/data/v59.0/sobjects/Lead/{row['Id']}"
    assert row["Owner"]["Name"] == "Coordinator" and row["Owner"]["Type"] == "User"
    assert row["CreatedDate"] == "2026-11-27T02:00:00.000+0000"


QUERY_ERRORS = [
    ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
    ("SELECT Nope__c FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Nope__c = 1", "INVALID_FIELD"),
    ("SELECT Id FROM Lead ORDER BY Nope__c", "INVALID_FIELD"),
    ("SELECT Id, Bogus.Name FROM Lead", "INVALID_FIELD"),
    ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE CreatedDate > '2026-11-28T00:00:00Z'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-28", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE IsConverted = 'false'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Score__c = '3'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE State = 3", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Score__c LIKE '3%'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
]


@pytest.mark.parametrize(("soql", "code"), QUERY_ERRORS)
def test_query_errors(store: Store, soql: str, code: str) -> None:
    with pytest.raises(ApiError) as info:
        store.query(soql)
    assert info.value.code == code and info.value.status == 400


def test_count(store: Store) -> None:
    q, rows = store.query("SELECT COUNT() FROM Lead WHERE State = 'CA'")
    assert q.count_only and len(rows) == 2
