"""Follow-up tasks in HubSpot: the create input, its marker, and finding tasks by marker.

Finding the task of an uncertain create (applied by HubSpot, answer lost) must not use
search: HubSpot's search index trails writes by seconds or more, so a task that exists
may not be searchable yet and would be created a second time. The contacts' task
associations (CRM v4 associations API) and a batch read of those tasks read the records
themselves, not the index: a task is found as soon as its create has been applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.base import TaskRequest
from connectors.hubspot.transport import HubSpotTransport
from connectors.hubspot.values import iso
from connectors.markers import marker, marker_in
from connectors.paging import chunked

BATCH = 100  # inputs per batch read / batch create
TASK_TO_CONTACT = 204
OWNER = "hubspot_owner_id"



def task_input(task: TaskRequest) -> dict[str, Any]:
    return {
        "properties": {
            "hs_timestamp": iso(task.due),
            "hs_task_subject": task.subject,
            "hs_task_body": f"Assigned by leadrouter. {marker(task.key)}",
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": task.priority,
            "hs_task_type": task.type,
            OWNER: task.owner_id,
        },
        "associations": [{"to": {"id": task.crm_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}]}],
    }


def existing_tasks(transport: HubSpotTransport, tasks: Sequence[TaskRequest]
                   ) -> dict[str, str]:
    """Tasks already carrying one of these markers, by key (the oldest when a marker is on
    several). Two kinds of call, neither through search: the contacts' task associations,
    100 contacts a call, then those tasks' bodies, 100 tasks a call."""
    if not tasks:
        return {}
    wanted = {marker(t.key): t.key for t in tasks}
    found: dict[str, str] = {}
    for chunk in chunked(associated_tasks(transport, sorted({t.crm_id for t in tasks})),
                         BATCH):
        body = {"inputs": [{"id": i} for i in chunk], "properties": ["hs_task_body"],
                "propertiesWithHistory": []}
        data = transport.call("tasks.batch_read", "crm.objects.tasks.batch_api", "read",
                              batch_read_input_simple_public_object_id=body,
                              archived=False) or {}
        for task in sorted(data.get("results") or [], key=lambda t: _id_order(t["id"])):
            text = str((task.get("properties") or {}).get("hs_task_body") or "")
            key = wanted.get(marker_in(text))
            if key and key not in found:
                found[key] = str(task["id"])
    return found


def associated_tasks(transport: HubSpotTransport, contact_ids: Sequence[str]) -> list[str]:
    """Ids of the tasks associated with these contacts (v4 batch read, paged per contact).

    A contact with no task comes back in the answer's `errors` (207): nothing to find."""
    found: set[str] = set()
    pending: list[tuple[str, str | None]] = [(cid, None) for cid in contact_ids]
    asked: set[tuple[str, str | None]] = set()  # a cursor that repeats must not loop
    while pending:
        chunk = [page for page in pending[:BATCH] if page not in asked]
        pending = pending[BATCH:]
        if not chunk:
            continue
        asked.update(chunk)
        body = {"inputs": [{"id": cid, **({"after": after} if after else {})}
                           for cid, after in chunk]}
        data = transport.call("contacts.task_associations", "crm.associations.v4.batch_api",
                              "get_page", from_object_type="contacts", to_object_type="tasks",
                              batch_input_public_fetch_associations_batch_request=body) or {}
        for result in data.get("results") or []:
            found.update(str(link["toObjectId"]) for link in result.get("to") or [])
            after = ((result.get("paging") or {}).get("next") or {}).get("after")
            if after:
                pending.append((str((result.get("from") or {}).get("id")), str(after)))
    return sorted(found, key=_id_order)


def _id_order(record_id: Any) -> tuple[int, str]:
    """HubSpot ids are numeric strings: order them as numbers (creation order)."""
    text = str(record_id)
    return len(text), text
