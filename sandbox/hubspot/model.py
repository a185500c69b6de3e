"""Records, property catalogue and time helpers of the HubSpot emulator."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "ASSOC_TYPE_IDS",
    "DATETIME_PROPS",
    "ENUM_OPTIONS",
    "NUMERIC_PROPS",
    "OBJECT_TYPE_IDS",
    "PROPERTIES",
    "READ_ONLY",
    "Record",
    "iso",
    "parse_time",
]

# Object types served, with HubSpot's object type ids (used by the v4 association answers).
OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "notes": "0-46",
    "calls": "0-48",
    "emails": "0-49",
    "tasks": "0-27",
}
_SINGULAR = {"contact": "contacts", "note": "notes", "call": "calls", "email": "emails",
             "task": "tasks"}


def object_type(name: str) -> str | None:
    """Normalise 'contact' / 'contacts' / '0-1' to the plural name, or None if unknown."""
    if name in OBJECT_TYPE_IDS:
        return name
    if name in _SINGULAR:
        return _SINGULAR[name]
    for plural, type_id in OBJECT_TYPE_IDS.items():
        if type_id == name:
            return plural
    return None


# HUBSPOT_DEFINED association type ids (from, to) -> id.
ASSOC_TYPE_IDS: dict[tuple[str, str], int] = {
    ("tasks", "contacts"): 204, ("contacts", "tasks"): 203,
    ("calls", "contacts"): 194, ("contacts", "calls"): 193,
    ("emails", "contacts"): 198, ("contacts", "emails"): 197,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201,
}

_COMMON = {"hs_object_id", "hubspot_owner_id", "hubspot_owner_assigneddate", "hubspot_team_id"}
_ENGAGEMENT = _COMMON | {"hs_timestamp", "hs_createdate", "hs_lastmodifieddate"}
PROPERTIES: dict[str, frozenset[str]] = {
    "contacts": frozenset(_COMMON | {
        "firstname", "lastname", "email", "phone", "mobilephone", "address", "city", "state",
        "zip", "country", "company", "jobtitle", "website", "message",
        "createdate", "lastmodifieddate", "lifecyclestage", "hs_lead_status",
        "hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2",
        "hs_latest_source", "notes_last_contacted", "notes_last_updated", "num_contacted_notes",
        "num_notes", "hs_last_sales_activity_timestamp", "hs_first_outreach_date",
        "hs_sales_email_last_replied", "hs_language", "hs_timezone",
        # Portal-defined custom properties of a treatment center.
        "insurance_type", "level_of_care", "preferred_language",
    }),
    "tasks": frozenset(_ENGAGEMENT | {
        "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority",
        "hs_task_type", "hs_task_completion_date", "hs_queue_membership_ids",
        "hs_task_reminders",
    }),
    "calls": frozenset(_ENGAGEMENT | {
        "hs_call_title", "hs_call_body", "hs_call_direction", "hs_call_disposition",
        "hs_call_duration", "hs_call_status", "hs_call_from_number", "hs_call_to_number",
    }),
    "emails": frozenset(_ENGAGEMENT | {
        "hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_direction",
        "hs_email_status", "hs_email_headers",
    }),
    "notes": frozenset(_ENGAGEMENT | {"hs_note_body", "hs_attachment_ids"}),
}

DATETIME_PROPS = frozenset({
    "createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "hs_timestamp",
    "notes_last_contacted", "notes_last_updated", "hs_last_sales_activity_timestamp",
    "hs_first_outreach_date", "hubspot_owner_assigneddate", "hs_task_completion_date",
    "hs_sales_email_last_replied",
})
NUMERIC_PROPS = frozenset({"hs_object_id", "num_contacted_notes", "num_notes",
                           "hs_call_duration"})
# Calculated by HubSpot; a write is rejected with READ_ONLY_VALUE.
READ_ONLY = frozenset({
    "hs_object_id", "lastmodifieddate", "hs_lastmodifieddate", "hs_createdate",
    "hubspot_owner_assigneddate", "notes_last_contacted", "num_contacted_notes",
    "hs_last_sales_activity_timestamp", "notes_last_updated", "num_notes",
})
ENUM_OPTIONS: dict[str, frozenset[str]] = {
    "hs_task_status": frozenset({"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED",
                                 "DEFERRED"}),
    "hs_task_priority": frozenset({"NONE", "LOW", "MEDIUM", "HIGH"}),
    "hs_task_type": frozenset({"EMAIL", "CALL", "TODO", "LINKED_IN", "MEETING"}),
    "hs_lead_status": frozenset({"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                                 "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}),
    "lifecyclestage": frozenset({"subscriber", "lead", "marketingqualifiedlead",
                                 "salesqualifiedlead", "opportunity", "customer",
                                 "evangelist", "other"}),
}


class Record:
    """One CRM object. ``props`` holds stored values only (interned keys); the id, creation
    and modification times live in slots and are rendered as properties on the way out."""

    __slots__ = ("archived", "created_ms", "id", "indexed", "num", "props", "updated_ms",
                 "visible_at")

    def __init__(self, num: int, props: dict[str, str], created_ms: int, updated_ms: int,
                 visible_at: float = 0.0) -> None:
        self.num = num
        self.id = str(num)
        self.props = props
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.archived = False
        self.visible_at = visible_at  # time.monotonic() from which search sees it
        # what search shows before `visible_at`: the version before the last change, or
        # None for a record created since (see index.py)
        self.indexed: Record | None = None


def intern_props(props: dict[str, str]) -> dict[str, str]:
    """Keys interned so 100k records share one copy of each property name."""
    return {sys.intern(k): v for k, v in props.items()}


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """HubSpot's timestamp form: ``2024-05-01T12:00:00.123Z``."""
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem:03d}Z"


@lru_cache(maxsize=65536)
def parse_time(value: str) -> int:
    """Epoch ms from epoch-ms digits, ISO 8601 (``Z``/offset/naive = UTC) or a bare date."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
