"""Contact-attempt detection: one Composite call (two queries) per 200 records, never a
call per lead.

Signals, the earliest after the assignment wins:
- a Call or Email task (`TaskSubtype`) on the record, created after the assignment;
- the routing task closed (`IsClosed`: Status 'Completed' or another closed status);
- (Lead) `Status` moved away from the org's default (`LeadStatus WHERE IsDefault = true`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.base import AttemptQuery, AttemptState
from connectors.paging import chunked
from connectors.salesforce.query import (
    IN_CHUNK,
    composite_queries,
    id_list,
    literal,
    parse_time,
    soql_datetime,
)
from connectors.salesforce.transport import SalesforceTransport

ACTIVITY_SUBTYPES = {"Call": "call", "Email": "email"}


def default_statuses(transport: SalesforceTransport) -> frozenset[str]:
    page = transport.query("LeadStatus.default",
                           "SELECT MasterLabel FROM LeadStatus WHERE IsDefault = true")
    return frozenset(str(r.get("MasterLabel")) for r in page.get("records") or [])


def contact_attempts(transport: SalesforceTransport, sobject: str,
                     queries: Sequence[AttemptQuery],
                     initial_statuses: frozenset[str]) -> list[AttemptState]:
    states: list[AttemptState] = []
    for chunk in chunked(list(queries), IN_CHUNK):
        states.extend(_attempts(transport, sobject, chunk, initial_statuses))
    return states


def _attempts(transport: SalesforceTransport, sobject: str, queries: Sequence[AttemptQuery],
              initial_statuses: frozenset[str]) -> list[AttemptState]:
    ids = id_list(dict.fromkeys(q.crm_id for q in queries))
    fields = "Id, OwnerId, Status" if sobject == "Lead" else "Id, OwnerId"
    since = min(q.assigned_at for q in queries) - timedelta(seconds=1)
    found = composite_queries(transport, f"{sobject}.attempts", {
        "records": f"SELECT {fields} FROM {sobject} WHERE Id IN {ids}",
        "tasks": "SELECT Id, WhoId, TaskSubtype, IsClosed, CreatedDate, CompletedDateTime, "
                 f"LastModifiedDate FROM Task WHERE WhoId IN {ids} AND CreatedDate >= "
                 f"{soql_datetime(since)} ORDER BY CreatedDate, Id"})
    records = {str(r["Id"]): r for r in found["records"]}
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for task in found["tasks"]:
        tasks.setdefault(str(task.get("WhoId")), []).append(task)
    states = []
    for query in queries:
        record = records.get(query.crm_id)
        if record is None:
            states.append(AttemptState(query.crm_id, None, None, exists=False))
            continue
        moment, signal = _earliest(query, record, tasks.get(query.crm_id, []),
                                   initial_statuses)
        states.append(AttemptState(query.crm_id, record.get("OwnerId") or None, moment,
                                   signal))
    return states


def _earliest(query: AttemptQuery, record: Mapping[str, Any],
              tasks: Sequence[Mapping[str, Any]], initial_statuses: frozenset[str]
              ) -> tuple[datetime | None, str | None]:
    candidates: list[tuple[datetime, str]] = []
    for task in tasks:
        created = parse_time(task.get("CreatedDate"))
        if str(task.get("Id")) == query.task_id:
            if task.get("IsClosed"):
                done = parse_time(task.get("CompletedDateTime")) or parse_time(
                    task.get("LastModifiedDate")) or query.assigned_at
                candidates.append((max(done, query.assigned_at), "task_done"))
            continue
        signal = ACTIVITY_SUBTYPES.get(str(task.get("TaskSubtype") or ""))
        if signal and created is not None and created >= query.assigned_at:
            candidates.append((created, signal))
    status = record.get("Status")
    if status is not None and initial_statuses and str(status) not in initial_statuses:
        candidates.append((query.assigned_at, "status"))
    if not candidates:
        return None, None
    return min(candidates)


def attempts_since(transport: SalesforceTransport, sobject: str,
                   queries: Sequence[AttemptQuery], since: datetime,
                   initial_statuses: frozenset[str]) -> list[AttemptState]:
    """States of the watched leads whose record or tasks changed since `since`, from one
    Composite call (two queries, their `SystemModstamp` windows), however many leads are
    watched: records whose owner is none of the watched leads' owners (a person's
    reassignment; our own writes put those owners there) or whose `Status` left the
    default; tasks closed, or Calls and Emails logged. A closed task moves the record's
    `LastActivityDate` without a new `SystemModstamp`: the task's own stamp finds it."""
    wanted = {q.crm_id: q for q in queries}
    stamp = soql_datetime(since)
    branches: list[str] = []
    owners = sorted({q.owner_id for q in queries if q.owner_id})
    if owners and len(owners) <= IN_CHUNK:
        branches.append(f"OwnerId NOT IN {id_list(owners)}")
    elif owners:
        branches.append("OwnerId != null")  # too many owners to list: every change
    if sobject == "Lead" and initial_statuses:
        statuses = ", ".join(literal(s) for s in sorted(initial_statuses))
        branches.append(f"Status NOT IN ({statuses})")
    fields = "Id, OwnerId, Status" if sobject == "Lead" else "Id, OwnerId"
    subtypes = ", ".join(literal(s) for s in ACTIVITY_SUBTYPES)
    soql = {"tasks": "SELECT Id, WhoId, TaskSubtype, IsClosed, CreatedDate, "
                     "CompletedDateTime, LastModifiedDate FROM Task WHERE SystemModstamp >= "
                     f"{stamp} AND (IsClosed = true OR TaskSubtype IN ({subtypes})) "
                     "ORDER BY CreatedDate, Id"}
    if branches:
        soql["records"] = (f"SELECT {fields} FROM {sobject} WHERE SystemModstamp >= {stamp} "
                           f"AND ({' OR '.join(branches)}) ORDER BY Id")
    found = composite_queries(transport, f"{sobject}.activity", soql)
    records = {str(r["Id"]): r for r in found.get("records", []) if str(r["Id"]) in wanted}
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for task in found["tasks"]:
        if str(task.get("WhoId")) in wanted:
            tasks.setdefault(str(task.get("WhoId")), []).append(task)
    states: list[AttemptState] = []
    for crm_id in sorted(set(records) | set(tasks)):
        query = wanted[crm_id]
        record = records.get(crm_id, {"OwnerId": query.owner_id})
        moment, signal = _earliest(query, record, tasks.get(crm_id, []), initial_statuses)
        owner = record.get("OwnerId") or None
        if moment is not None or owner != query.owner_id:  # else nothing new
            states.append(AttemptState(crm_id, owner, moment, signal))
    return states
