"""HubSpot behind the `Connector` port: contacts, owners, tasks, contact attempts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.base import (
    ActivityScan,
    AttemptQuery,
    AttemptState,
    AuthError,
    ContactMatches,
    CreatedLead,
    CrmLead,
    CrmOwner,
    OwnerWrite,
    OwnerWriteResult,
    PollPage,
    TaskRequest,
    TaskResult,
    WriteOutcome,
)
from connectors.hubspot import activity
from connectors.hubspot import create as intake_create
from connectors.hubspot.search import CreatedDatePager
from connectors.hubspot.tasks import existing_tasks, marker, marker_in, task_input
from connectors.hubspot.transport import HubSpotTransport
from connectors.hubspot.values import parse_time, to_ms
from connectors.hubspot.webhooks import SignedEvents, webhook_source
from connectors.owner_writes import RecentOwners, compare_before_write
from connectors.paging import AfterPager, chunked, collect_pages, cursor_ceiling
from connectors.settings import HubSpotConfig

BATCH = 100  # HubSpot batch read/update/create inputs
OWNER = "hubspot_owner_id"
AVAILABILITY = "hs_availability_status"  # a user property: available | away
ATTEMPT_PROPERTIES = ("notes_last_contacted", "hs_last_sales_activity_timestamp",
                      "hs_lead_status", "num_contacted_notes")
INITIAL_LEAD_STATUSES = frozenset({"", "NEW", "OPEN"})
APP_URL = "https://app.hubspot.com"
CONTACT_TYPE = "0-1"  # the object type id of contacts in record URLs


class HubSpotConnector:
    kind = "hubspot"

    def __init__(self, settings: HubSpotConfig, fields: Mapping[str, str],
                 transport: HubSpotTransport) -> None:
        self.settings = settings
        self.fields = dict(fields)
        self.transport = transport
        self._placeholders = frozenset(settings.placeholder_owners)
        props = {OWNER, "createdate", *fields.values(), *settings.filters}
        self._properties = sorted(props)
        self.recent_owners = RecentOwners(settings.owner_read_max_age.total_seconds())

    # --- what the service asks of the plugin ---------------------------------------------
    @property
    def api_url(self) -> str:
        return self.settings.base_url

    def placeholder_owner_ids(self) -> frozenset[str]:
        return self._placeholders

    def eligibility_properties(self) -> frozenset[str]:
        return frozenset(self.settings.filters) | {OWNER}

    def metadata_properties(self) -> Mapping[str, str]:
        return {fact: name for fact, name in self.settings.metadata_properties.items()}

    def record_link(self, crm_id: str) -> str:
        """The contact in HubSpot's UI through the account-less `/l/` link, which opens the
        user's own portal (the settings do not name a portal id; `[notifications]
        record_url` gives an exact link when needed)."""
        return f"{APP_URL}/l/contacts/record/{CONTACT_TYPE}/{quote(crm_id, safe='')}"

    def webhook_source(self, environ: Mapping[str, str], *, terminates_tls: bool
                       ) -> SignedEvents | None:
        """Signed webhooks, on when `webhook_secret_env` names a variable holding the app's
        client secret."""
        return webhook_source(self.settings.webhook_secret_env, environ,
                              self.eligibility_properties(), self.settings.portal_id)

    # --- reading --------------------------------------------------------------------------
    def owners(self) -> Sequence[CrmOwner]:
        found: list[CrmOwner] = []
        for archived in (False, True):
            def fetch(after: str | None, archived: bool = archived) -> dict[str, Any]:
                params: dict[str, Any] = {"limit": 100, "archived": archived}
                if after:
                    params["after"] = after
                return self.transport.call("owners.list", "crm.owners.owners_api", "get_page",
                                           **params) or {}
            for page in AfterPager(fetch):
                for owner in page:
                    found.append(CrmOwner(
                        id=str(owner.get("id")), email=owner.get("email") or None,
                        active=not archived and not owner.get("archived"),
                        is_queue=str(owner.get("type", "PERSON")).upper() == "QUEUE"))
        return found

    def away_owners(self) -> frozenset[str] | None:
        """Owner ids of the users whose availability status is `away` (Users API,
        `GET /crm/v3/objects/users`, properties `hubspot_owner_id` and
        `hs_availability_status`); None when `availability` is off."""
        if not self.settings.availability:
            return None
        away: set[str] = set()

        def fetch(after: str | None) -> dict[str, Any]:
            params: dict[str, Any] = {"limit": 100, "archived": False,
                                      "properties": [OWNER, AVAILABILITY]}
            if after:
                params["after"] = after
            return self.transport.call("users.list", "crm.objects.basic_api", "get_page",
                                       object_type="users", **params) or {}

        for page in AfterPager(fetch):
            for user in page:
                props = user.get("properties") or {}
                owner = str(props.get(OWNER) or "").strip()
                if owner and str(props.get(AVAILABILITY) or "").strip().lower() == "away":
                    away.add(owner)
        return frozenset(away)

    def _lead(self, record: Mapping[str, Any]) -> CrmLead | None:
        props = record.get("properties") or {}
        created = parse_time(props.get("createdate") or record.get("createdAt"))
        if created is None:
            return None  # a record without a creation time cannot be placed on the cursor
        owner = props.get(OWNER) or None
        attributes = {attr: str(props[name]).strip() for attr, name in self.fields.items()
                      if props.get(name) not in (None, "")}
        return CrmLead(str(record["id"]), created, owner, self._eligible(owner, props),
                       attributes)

    def _eligible(self, owner: str | None, props: Mapping[str, Any]) -> bool:
        if owner and owner not in self._placeholders:
            return False
        for name, allowed in self.settings.filters.items():
            value = str(props.get(name) or "").strip().lower()
            if value not in {a.lower() for a in allowed}:
                return False
        return True

    def poll(self, cursor: str | None, since: datetime, limit: int) -> PollPage:
        return collect_pages(self.poll_pages(cursor, since), limit,
                             fresh=lambda lead: not cursor or to_ms(lead.created_at) > int(cursor))

    def poll_pages(self, cursor: str | None, since: datetime) -> Iterator[PollPage]:
        """Every record created at or after the cursor minus the overlap (or since `since`),
        one search page at a time, oldest first, following the search `after` token (a new
        query only at the 10,000-result cap). Each page's cursor is safe to store with its
        leads; the last page's moves up to when this poll began."""
        began = to_ms(datetime.now(UTC))
        overlap = int(self.settings.poll_overlap / timedelta(milliseconds=1))
        start = int(cursor) - overlap if cursor else to_ms(since)
        pager = CreatedDatePager(self.transport, self._properties, max(start, 0))
        newest = int(cursor) if cursor else to_ms(since)
        ceiling = max(to_ms(cursor_ceiling()), int(cursor) if cursor else 0)
        # a restart at the cap repeats the records of its newest millisecond: remember those
        # only (memory stays one page's worth however long the backlog)
        top, boundary = -1, set[str]()
        for records in pager:
            leads: list[CrmLead] = []
            for record in records:
                lead = self._lead(record)
                if lead is None:
                    continue
                created = to_ms(lead.created_at)
                if created == top and lead.crm_id in boundary:
                    continue
                if created > top:
                    top, boundary = created, set()
                if created == top:
                    boundary.add(lead.crm_id)
                leads.append(lead)
                newest = max(newest, created)
            self.recent_owners.remember((lead.crm_id, lead.owner_id) for lead in leads)
            leads.sort(key=lambda lead: (lead.created_at, lead.crm_id))
            position = min(newest, ceiling)
            if not pager.has_more:
                # everything search showed when this poll began is read: the next poll need
                # only look back `poll_overlap` from then (index lag), so a quiet portal costs
                # one search, not a re-read of its newest records forever
                position = max(position, min(began, ceiling))
            yield PollPage(leads, str(position), more=pager.has_more)

    def _read(self, ids: Sequence[str], properties: Sequence[str]) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for chunk in chunked(list(dict.fromkeys(ids)), BATCH):
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(properties),
                    "propertiesWithHistory": []}
            data = self.transport.call("contacts.batch_read", "crm.contacts.batch_api", "read",
                                       batch_read_input_simple_public_object_id=body,
                                       archived=False) or {}
            for record in data.get("results") or []:
                records[str(record["id"])] = record
        return records

    def fetch(self, crm_ids: Sequence[str]) -> Sequence[CrmLead]:
        # HubSpot record ids are ASCII digits (int64): anything else cannot exist, so it is
        # dropped before the call instead of costing one (or failing the batch)
        ids = [i for i in crm_ids if isinstance(i, str) and 0 < len(i) <= 19
               and i.isascii() and i.isdigit()]
        if not ids:
            return []
        records = self._read(ids, self._properties)
        leads = [lead for r in records.values() if (lead := self._lead(r)) is not None]
        self.recent_owners.remember((lead.crm_id, lead.owner_id) for lead in leads)
        return leads

    # --- writing --------------------------------------------------------------------------
    def write_owners(self, writes: Sequence[OwnerWrite]) -> Sequence[OwnerWriteResult]:
        # the owner a poll read seconds ago stands for the owner now; the rest is read
        current = self.recent_owners.fresh(w.crm_id for w in writes)
        records = self._read([w.crm_id for w in writes if w.crm_id not in current], [OWNER])
        current.update({crm_id: (record.get("properties") or {}).get(OWNER) or None
                        for crm_id, record in records.items()})
        to_write, results = compare_before_write(writes, current)
        self.recent_owners.forget(w.crm_id for w in to_write)
        for chunk in chunked(to_write, BATCH):
            body = {"inputs": [{"id": w.crm_id,
                                "properties": {OWNER: w.owner_id, **w.properties}}
                               for w in chunk]}
            data = self.transport.call("contacts.batch_update", "crm.contacts.batch_api",
                                       "update",
                                       batch_input_simple_public_object_batch_input=body) or {}
            done = {str(r["id"]) for r in data.get("results") or []}
            failed = _error_ids(data)
            for write in chunk:
                if write.crm_id in done:
                    results.append(OwnerWriteResult(write.crm_id, WriteOutcome.WRITTEN,
                                                    write.owner_id))
                else:
                    reason = failed.get(write.crm_id, "not in the batch result")
                    results.append(OwnerWriteResult(write.crm_id, WriteOutcome.REJECTED,
                                                    error=reason))
        return results

    def find_tasks(self, tasks: Sequence[TaskRequest]) -> Mapping[str, str]:
        # not through search, which trails writes: see connectors/hubspot/tasks.py
        return existing_tasks(self.transport, tasks)

    def create_tasks(self, tasks: Sequence[TaskRequest], *, check_existing: bool
                     ) -> Sequence[TaskResult]:
        existing = self.find_tasks(tasks) if check_existing and tasks else {}
        results = [TaskResult(key, task_id, created=False) for key, task_id in existing.items()]
        missing = [t for t in tasks if t.key not in existing]
        for chunk in chunked(missing, BATCH):
            body = {"inputs": [task_input(t) for t in chunk]}
            # no blind retry: a create answered with an error may still have been applied;
            # the caller retries with check_existing=True, which finds it by its marker
            data = self.transport.call("tasks.batch_create", "crm.objects.tasks.batch_api",
                                       "create", retry=False,
                                       batch_input_simple_public_object_batch_input_for_create=body
                                       ) or {}
            by_marker = {}
            for task in data.get("results") or []:
                text = str((task.get("properties") or {}).get("hs_task_body") or "")
                by_marker[marker_in(text)] = str(task["id"])
            for task in chunk:
                task_id = by_marker.get(marker(task.key))
                results.append(TaskResult(task.key, task_id, created=task_id is not None,
                                          error=None if task_id else "not created"))
        return results

    def contact_attempts(self, queries: Sequence[AttemptQuery]) -> Sequence[AttemptState]:
        records = self._read([q.crm_id for q in queries], [OWNER, *ATTEMPT_PROPERTIES])
        done_tasks = self._completed_tasks([q.task_id for q in queries if q.task_id])
        states: list[AttemptState] = []
        for query in queries:
            record = records.get(query.crm_id)
            if record is None:
                states.append(AttemptState(query.crm_id, None, None, exists=False))
                continue
            props = record.get("properties") or {}
            attempted, signal = _attempt(props, query, done_tasks)
            states.append(AttemptState(query.crm_id, props.get(OWNER) or None, attempted,
                                       signal))
        return states

    def attempts_since(self, queries: Sequence[AttemptQuery], watermark: str | None
                       ) -> ActivityScan:
        """States of the watched leads whose contact or routing task changed since the
        watermark (minus `poll_overlap`: search trails writes), from two searches (more
        pages only when more than 200 records changed); the next watermark is when this
        scan began. Activity before the oldest assignment is not looked at."""
        began = to_ms(datetime.now(UTC))
        if not queries:
            return ActivityScan([], str(began))
        overlap = int(self.settings.poll_overlap / timedelta(milliseconds=1))
        oldest = min(to_ms(q.assigned_at) for q in queries)
        since = max(int(watermark) if watermark else 0, oldest) - overlap
        try:
            contacts = activity.changed_contacts(self.transport, since,
                                                 {q.owner_id for q in queries},
                                                 [OWNER, *ATTEMPT_PROPERTIES])
            done = activity.completed_tasks(self.transport, since)
        except activity.TooMuchActivity:
            return ActivityScan([], str(began), complete=False)
        states: list[AttemptState] = []
        for query in queries:
            props = contacts.get(query.crm_id)
            finished = bool(query.task_id and query.task_id in done)
            if props is None and not finished:
                continue  # nothing of this lead changed
            attempted, signal = _attempt(props or {}, query, done)
            owner = (props.get(OWNER) or None) if props is not None else query.owner_id
            if attempted is not None or owner != query.owner_id:  # else nothing new
                states.append(AttemptState(query.crm_id, owner, attempted, signal))
        return ActivityScan(states, str(max(began, int(watermark) if watermark else 0)))

    def _completed_tasks(self, task_ids: Sequence[str]) -> dict[str, datetime | None]:
        done: dict[str, datetime | None] = {}
        for chunk in chunked(list(dict.fromkeys(task_ids)), BATCH):
            body = {"inputs": [{"id": i} for i in chunk],
                    "properties": ["hs_task_status", "hs_task_completion_date",
                                   "hs_lastmodifieddate"], "propertiesWithHistory": []}
            data = self.transport.call("tasks.batch_read", "crm.objects.tasks.batch_api",
                                       "read", batch_read_input_simple_public_object_id=body,
                                       archived=False) or {}
            for task in data.get("results") or []:
                props = task.get("properties") or {}
                if str(props.get("hs_task_status") or "").upper() == "COMPLETED":
                    done[str(task["id"])] = parse_time(props.get("hs_task_completion_date")
                                                       or props.get("hs_lastmodifieddate"))
        return done

    # --- email intake (connectors/hubspot/create.py) --------------------------------------
    def find_by_email_or_phone(self, emails: Sequence[str], phones: Sequence[str], *,
                               refs: Sequence[str] = (), ref_property: str = ""
                               ) -> ContactMatches:
        return intake_create.find(self.transport, emails, phones, self._properties,
                                  self._lead, refs=refs, ref_property=ref_property)

    def create_lead(self, properties: Mapping[str, str]) -> CreatedLead:
        return intake_create.create(self.transport, properties)

    def close(self) -> None:
        """Nothing to release: urllib3 pools close with the process."""


def _attempt(props: Mapping[str, Any], query: AttemptQuery,
             done_tasks: Mapping[str, datetime | None]) -> tuple[datetime | None, str | None]:
    candidates: list[tuple[datetime, str]] = []
    for name, signal in (("notes_last_contacted", "last_contacted"),
                         ("hs_last_sales_activity_timestamp", "sales_activity")):
        moment = parse_time(props.get(name))
        if moment is not None and moment >= query.assigned_at:
            candidates.append((moment, signal))
    if query.task_id and query.task_id in done_tasks:
        candidates.append((done_tasks[query.task_id] or query.assigned_at, "task_done"))
    status = str(props.get("hs_lead_status") or "").upper()
    if status not in INITIAL_LEAD_STATUSES:
        candidates.append((query.assigned_at, "lead_status"))
    if not candidates:
        return None, None
    moment, signal = min(candidates)
    return moment, signal


def _error_ids(data: Mapping[str, Any]) -> dict[str, str]:
    """Record ids named by a 207 answer's errors, with the error category (no message text)."""
    failed: dict[str, str] = {}
    for error in data.get("errors") or []:
        category = str(error.get("category") or "error")
        context = error.get("context") or {}
        for record_id in context.get("ids") or context.get("id") or []:
            failed[str(record_id)] = category
    return failed


def create_connector(settings: HubSpotConfig, fields: Mapping[str, str], *,
                     environ: Mapping[str, str] | None = None,
                     **transport_options: Any) -> HubSpotConnector:
    """Entry point `leadrouter.connectors: hubspot`. The token comes from the environment."""
    environ = os.environ if environ is None else environ
    token = environ.get(settings.token_env, "")
    if not token:
        raise AuthError(f"environment variable {settings.token_env} (crm.hubspot.token_env) "
                        "is empty: set it to the private-app token")
    transport = HubSpotTransport(
        base_url=settings.base_url, token=token, ca_bundle=settings.ca_bundle,
        timeout=settings.timeout.total_seconds(), requests_per_10s=settings.requests_per_10s,
        searches_per_second=settings.searches_per_second, **transport_options)
    return HubSpotConnector(settings, fields, transport)
