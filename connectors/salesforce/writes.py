"""Owner writes and follow-up tasks through sObject Collections (200 records a call).

Every write carries `Sforce-Auto-Assign: FALSE`: on a Lead the header defaults to TRUE and
the org's active assignment rule would overwrite the owner just written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from connectors.base import (
    OwnerWrite,
    OwnerWriteResult,
    TaskRequest,
    TaskResult,
    WriteOutcome,
)
from connectors.markers import marker, marker_in
from connectors.owner_writes import RecentOwners, compare_before_write
from connectors.paging import chunked
from connectors.salesforce.errors import save_error
from connectors.salesforce.query import (
    IN_CHUNK,
    MAX_COMPOSITE_QUERIES,
    composite_queries,
    id_list,
    query_by_ids,
)
from connectors.salesforce.transport import SalesforceTransport

COLLECTION = 200  # records per sObject Collections request
OWNER_BATCH = 5 * COLLECTION  # owners compared by one Composite read (five queries of 200)
COLLECTIONS = "composite/sobjects"
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
PRIORITY = {"HIGH": "High", "MEDIUM": "Normal", "LOW": "Low"}
TASK_TYPE = {"CALL": "Call", "EMAIL": "Email", "MEETING": "Meeting"}
QUEUE_PREFIX = "00G"
GONE = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND"})



def current_owners(transport: SalesforceTransport, sobject: str, ids: Sequence[str]
                   ) -> dict[str, str | None]:
    """OwnerId now, by record id; deleted/merged records are absent."""
    rows = query_by_ids(transport, f"{sobject}.owners",
                        f"SELECT Id, OwnerId FROM {sobject} WHERE Id IN {{ids}}", ids)
    return {str(r["Id"]): (r.get("OwnerId") or None) for r in rows}


def write_owners(transport: SalesforceTransport, sobject: str,
                 writes: Sequence[OwnerWrite], recent: RecentOwners | None = None
                 ) -> list[OwnerWriteResult]:
    """Compare with the owner now (a batched SOQL read, or what a poll read seconds ago:
    `recent`), then write what is still ours."""
    current = recent.fresh(w.crm_id for w in writes) if recent is not None else {}
    unread = [w.crm_id for w in writes if w.crm_id not in current]
    if unread and recent is not None:
        current.update(_read_ahead(transport, sobject, writes, unread, recent))
    elif unread:
        current.update(current_owners(transport, sobject, unread))
    # a queue owner is Salesforce's "unowned" (HubSpot's empty owner): replaceable as None
    to_write, results = compare_before_write(
        writes, current,
        unowned_form=lambda owner: None if owner and owner.startswith(QUEUE_PREFIX) else owner)
    if recent is not None:
        recent.forget(w.crm_id for w in to_write)
    for chunk in chunked(to_write, COLLECTION):
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": sobject}, "id": w.crm_id, **w.properties,
             "OwnerId": w.owner_id} for w in chunk]}
        # an owner write is idempotent: retrying it after an uncertain answer is safe
        saved = transport.restful(f"{sobject}.collection_update", COLLECTIONS, method="PATCH",
                                  json=body, headers=NO_AUTO_ASSIGN) or []
        for write, result in zip(chunk, _results(saved, len(chunk)), strict=True):
            results.append(_owner_result(write, result))
    return results


def _read_ahead(transport: SalesforceTransport, sobject: str, writes: Sequence[OwnerWrite],
                unread: list[str], recent: RecentOwners) -> dict[str, str | None]:
    """The owners of `unread` now, read with those of the records the poll read longest
    ago that still look replaceable (the next writes, most likely): up to five queries of
    200 ids in one Composite call, so the batches that follow find fresh owners instead of
    each reading its own. Owners of `unread` by id; the others are remembered."""
    replaceable = {owner for w in writes for owner in w.replaceable}

    def wanted(owner: str | None) -> bool:
        return owner in replaceable or (owner or "").startswith(QUEUE_PREFIX)

    per_call = MAX_COMPOSITE_QUERIES * IN_CHUNK
    room = -len(unread) % per_call  # fill the last call's queries
    ids = unread + recent.stalest(room, wanted, exclude=unread)
    owners: dict[str, str | None] = {}
    for call in chunked(ids, per_call):
        parts = enumerate(chunked(call, IN_CHUNK))
        queries = {f"owners{n}": f"SELECT Id, OwnerId FROM {sobject} WHERE Id IN "
                                 f"{id_list(part)}" for n, part in parts}
        found = composite_queries(transport, f"{sobject}.owners", queries)
        owners.update({str(r["Id"]): (r.get("OwnerId") or None)
                       for records in found.values() for r in records})
    asked = set(unread)
    recent.remember((crm_id, owner) for crm_id, owner in owners.items() if crm_id not in asked)
    return {crm_id: owner for crm_id, owner in owners.items() if crm_id in asked}


def _results(saved: Any, count: int) -> list[Mapping[str, Any]]:
    """SaveResults in request order, padded when the answer is short (never trusted blindly)."""
    rows = [r for r in saved if isinstance(r, Mapping)] if isinstance(saved, list) else []
    missing: Mapping[str, Any] = {"success": False, "errors": [{"statusCode": "NO_RESULT"}]}
    return (rows + [missing] * count)[:count]


def _owner_result(write: OwnerWrite, result: Mapping[str, Any]) -> OwnerWriteResult:
    if result.get("success"):
        return OwnerWriteResult(write.crm_id, WriteOutcome.WRITTEN, write.owner_id)
    codes = save_error(result.get("errors"))
    if set(codes.split(",")) & GONE:
        return OwnerWriteResult(write.crm_id, WriteOutcome.MISSING, error=codes)
    return OwnerWriteResult(write.crm_id, WriteOutcome.REJECTED, error=codes)


def existing_tasks(transport: SalesforceTransport, tasks: Sequence[TaskRequest]
                   ) -> dict[str, str]:
    """Tasks already carrying one of these markers, by key. `Description` is a long text
    area (not filterable), so tasks are read by `WhoId` and matched here."""
    wanted = {marker(t.key): t.key for t in tasks}
    rows = query_by_ids(transport, "Task.markers",
                        "SELECT Id, Description FROM Task WHERE WhoId IN {ids} "
                        "ORDER BY CreatedDate, Id", [t.crm_id for t in tasks])
    found: dict[str, str] = {}
    for row in rows:
        key = wanted.get(marker_in(str(row.get("Description") or "")))
        if key and key not in found:
            found[key] = str(row["Id"])
    return found


def task_record(task: TaskRequest) -> dict[str, Any]:
    due = task.due.astimezone(UTC)
    return {
        "attributes": {"type": "Task"},
        "WhoId": task.crm_id,
        "OwnerId": task.owner_id,
        "Subject": task.subject,
        "ActivityDate": due.date().isoformat(),
        # ActivityDate is a date: the reminder keeps the deadline to the millisecond
        "ReminderDateTime": due.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "IsReminderSet": True,
        "Priority": PRIORITY.get(task.priority.upper(), "Normal"),
        "Status": "Not Started",
        "Type": TASK_TYPE.get(task.type.upper(), "Other"),
        "Description": f"Assigned by leadrouter. {marker(task.key)}",
    }


def create_tasks(transport: SalesforceTransport, tasks: Sequence[TaskRequest], *,
                 check_existing: bool) -> list[TaskResult]:
    existing = existing_tasks(transport, tasks) if check_existing and tasks else {}
    results = [TaskResult(key, task_id, created=False) for key, task_id in existing.items()]
    missing = [t for t in tasks if t.key not in existing]
    for chunk in chunked(missing, COLLECTION):
        body = {"allOrNone": False, "records": [task_record(t) for t in chunk]}
        # no blind retry: a create answered with an error may still have been applied;
        # the caller retries with check_existing=True, which finds it by its marker
        saved = transport.restful("Task.collection_create", COLLECTIONS, method="POST",
                                  json=body, headers=NO_AUTO_ASSIGN, retry=False) or []
        for task, result in zip(chunk, _results(saved, len(chunk)), strict=True):
            if result.get("success") and result.get("id"):
                results.append(TaskResult(task.key, str(result["id"]), created=True))
            else:
                results.append(TaskResult(task.key, None, created=False,
                                          error=save_error(result.get("errors"))))
    return results
