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
