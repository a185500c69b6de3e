"""Contact attempts by activity: what changed in HubSpot since the last SLA scan.

One contacts search per scan (its filter groups OR'd) finds the contacts whose attempt
signals moved since the watermark: `notes_last_contacted` or the last sales activity
after it, a `hs_lead_status` past the initial ones, or an owner none of the watched leads
has (a person's reassignment); one tasks search finds the tasks completed since. Both
follow the activity, not the number of open leads. Our own owner writes are left out of
the search (their owners are the watched leads' own), so a backlog just written does not
come back as "activity"; a person moving a lead to another owner who also holds watched
leads is seen by the batch read before its deadline (sync/sla_scan.py), and by the
compare before any reassignment writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from connectors.hubspot.transport import HubSpotTransport
from connectors.hubspot.values import parse_time

SEARCH_CAP = 10_000  # past this `after` answers 400: too much changed, read leads instead
PAGE = 200
MAX_IN_VALUES = 100  # values in one IN / NOT_IN filter
OWNER = "hubspot_owner_id"
INITIAL_STATUSES = ("NEW", "OPEN")


class TooMuchActivity(Exception):
    """More changed records than one search can page through."""


def contact_groups(since_ms: int, owners: Iterable[str]) -> list[dict[str, Any]]:
    """Filter groups (OR'd) for contacts with an attempt signal or a foreign owner since."""
    since = str(since_ms)
    modified: dict[str, Any] = {"propertyName": "lastmodifieddate", "operator": "GTE",
                                "value": since}
    groups: list[dict[str, Any]] = [
        {"filters": [{"propertyName": "notes_last_contacted", "operator": "GTE",
                      "value": since}]},
        {"filters": [{"propertyName": "hs_last_sales_activity_timestamp", "operator": "GTE",
                      "value": since}]},
        {"filters": [modified, {"propertyName": "hs_lead_status", "operator": "HAS_PROPERTY"},
                     {"propertyName": "hs_lead_status", "operator": "NOT_IN",
                      "values": list(INITIAL_STATUSES)}]},
    ]
    ours = sorted(set(owners))
    owned = [modified, {"propertyName": OWNER, "operator": "HAS_PROPERTY"}]
    if len(ours) <= MAX_IN_VALUES:  # else every owned contact changed since (still bounded)
        owned.append({"propertyName": OWNER, "operator": "NOT_IN", "values": ours})
    groups.append({"filters": owned})
    return groups


def _search(transport: HubSpotTransport, endpoint: str, api: str, body: dict[str, Any]
            ) -> list[dict[str, Any]]:
    """Every result of one search, page by page through `after`."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = transport.call(endpoint, api, "do_search", search=True,
                              public_object_search_request={**body, "limit": PAGE,
                                                            **({"after": after} if after
                                                               else {})}) or {}
        if int(page.get("total") or 0) > SEARCH_CAP:
            raise TooMuchActivity(endpoint)
        found.extend(page.get("results") or [])
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return found


def changed_contacts(transport: HubSpotTransport, since_ms: int, owners: Iterable[str],
                     properties: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Properties of the contacts with activity since `since_ms`, by id."""
    body = {"filterGroups": contact_groups(since_ms, owners), "properties": list(properties),
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}
    results = _search(transport, "contacts.activity_search", "crm.contacts.search_api", body)
    return {str(r["id"]): dict(r.get("properties") or {}) for r in results}


def completed_tasks(transport: HubSpotTransport, since_ms: int) -> dict[str, datetime | None]:
    """Tasks completed (by status) and modified since `since_ms`: id -> completion time."""
    body = {"filterGroups": [{"filters": [
        {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"},
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)},
    ]}], "properties": ["hs_task_status", "hs_task_completion_date", "hs_lastmodifieddate"],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]}
    results = _search(transport, "tasks.activity_search", "crm.objects.tasks.search_api", body)
    done: dict[str, datetime | None] = {}
    for task in results:
        props = task.get("properties") or {}
        done[str(task["id"])] = parse_time(props.get("hs_task_completion_date")
                                           or props.get("hs_lastmodifieddate"))
    return done
