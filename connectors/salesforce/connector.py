"""Salesforce behind the `Connector` port: Leads or Contacts, users and queues, tasks.

Eligible records are owned by a queue (an `OwnerId` starting `00G`) or by a user listed in
`placeholder_owners`, and pass the configured field filters. Polling reads `CreatedDate`
ascending (ties by `Id`) from the cursor minus `poll_overlap`; the cursor is the newest
`CreatedDate` seen (once a poll is drained: when it began), as ISO 8601 with milliseconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.base import (
    ActivityScan,
    AttemptQuery,
    AttemptState,
    ContactMatches,
    CreatedLead,
    CrmLead,
    CrmOwner,
    OwnerWrite,
    OwnerWriteResult,
    PollPage,
    TaskRequest,
    TaskResult,
)
from connectors.owner_writes import RecentOwners
from connectors.paging import collect_pages, cursor_ceiling
from connectors.salesforce import attempts
from connectors.salesforce import create as intake_create
from connectors.salesforce import writes as sobject_collections
from connectors.salesforce.auth import DEFAULT_LIFETIME, TokenKeeper, token_source
from connectors.salesforce.ids import normalize_id
from connectors.salesforce.query import (
    SoqlPager,
    parse_time,
    query_all,
    query_by_ids,
    select_list,
    soql_datetime,
)
from connectors.salesforce.transport import SalesforceTransport, make_session
from connectors.salesforce.webhooks import OutboundMessages, webhook_source
from connectors.salesforce.writes import QUEUE_PREFIX
from connectors.settings import SalesforceConfig

OWNER = "OwnerId"


def cursor_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class SalesforceConnector:
    kind = "salesforce"
    batch_size = sobject_collections.COLLECTION  # the pipeline hands us up to 200 records per call
    # owner writes: five collections behind one compare read (a Composite call of five
    # queries), so a backlog costs one read per 1,000 owners, not one per 200
    owner_batch_size = sobject_collections.OWNER_BATCH

    def __init__(self, settings: SalesforceConfig, fields: Mapping[str, str],
                 transport: SalesforceTransport) -> None:
        self.settings = settings
        self.sobject = settings.object
        self.fields = dict(fields)
        self.transport = transport
        self._placeholders = frozenset(settings.placeholder_owners)
        self._select = select_list(["Id", "CreatedDate", "OwnerId", *fields.values(),
                                    *settings.filters])
        self._initial_statuses: frozenset[str] | None = None
        self.recent_owners = RecentOwners(settings.owner_read_max_age.total_seconds())
        self._lock = threading.Lock()

    # --- what the service asks of the plugin ---------------------------------------------
    @property
    def api_url(self) -> str:
        return self.settings.instance_url

    def placeholder_owner_ids(self) -> frozenset[str]:
        """Users listed in `placeholder_owners` (a queue, `00G...`, stands for nobody without
        being listed)."""
        return self._placeholders

    def eligibility_properties(self) -> frozenset[str]:
        return frozenset(self.settings.filters) | {OWNER}

    def metadata_properties(self) -> Mapping[str, str]:
        return {fact: name for fact, name in self.settings.metadata_fields.items()}

    def record_link(self, crm_id: str) -> str:
        """The record in Lightning Experience."""
        return (f"{self.settings.instance_url.rstrip('/')}/lightning/r/"
                f"{quote(self.sobject, safe='')}/{quote(crm_id, safe='')}/view")

    def webhook_source(self, environ: Mapping[str, str], *, terminates_tls: bool
                       ) -> OutboundMessages | None:
        """Outbound Messages, on when `organization_id` is set; optionally only on a secret
        path segment (`outbound_path_secret_env`) and for clients with a certificate from
        `outbound_client_ca`."""
        settings = self.settings
        return webhook_source(settings.organization_id, settings.outbound_path_secret_env,
                              settings.outbound_client_ca, environ,
                              terminates_tls=terminates_tls)

    # --- reading --------------------------------------------------------------------------
    def owners(self) -> Sequence[CrmOwner]:
        users = query_all(self.transport, "User.owners",
                          "SELECT Id, Email, IsActive FROM User ORDER BY Id")
        queues = query_all(self.transport, "Group.queues",
                           "SELECT Id FROM Group WHERE Type = 'Queue' ORDER BY Id")
        found = [CrmOwner(str(u["Id"]), u.get("Email") or None, bool(u.get("IsActive")))
                 for u in users]
        found += [CrmOwner(str(q["Id"]), None, True, is_queue=True) for q in queues]
        return found

    def away_owners(self) -> frozenset[str] | None:
        """Active users whose `away_field` checkbox is checked; None when it is not set."""
        field = self.settings.away_field
        if not field:
            return None
        users = query_all(self.transport, "User.away",
                          f"SELECT Id FROM User WHERE IsActive = true AND {field} = true "
                          "ORDER BY Id")
        return frozenset(str(u["Id"]) for u in users)

    def _value(self, record: Mapping[str, Any], name: str) -> Any:
        if name in record:
            return record[name]
        lowered = name.lower()
        return next((v for k, v in record.items() if k.lower() == lowered), None)

    def _lead(self, record: Mapping[str, Any]) -> CrmLead | None:
        created = parse_time(record.get("CreatedDate"))
        if created is None:
            return None
        owner = record.get("OwnerId") or None
        attributes = {attr: str(value).strip() for attr, name in self.fields.items()
                      if (value := self._value(record, name)) not in (None, "")}
        return CrmLead(str(record["Id"]), created, owner, self._eligible(owner, record),
                       attributes)

    def _eligible(self, owner: str | None, record: Mapping[str, Any]) -> bool:
        if owner and not owner.startswith(QUEUE_PREFIX) and owner not in self._placeholders:
            return False
        for name, allowed in self.settings.filters.items():
            value = str(self._value(record, name) or "").strip().lower()
            if value not in {a.strip().lower() for a in allowed}:
                return False
        return True

    def poll(self, cursor: str | None, since: datetime, limit: int) -> PollPage:
        previous = parse_time(cursor) if cursor else None
        return collect_pages(self.poll_pages(cursor, since), limit,
                             fresh=lambda lead: previous is None or lead.created_at > previous)

    def poll_pages(self, cursor: str | None, since: datetime) -> Iterator[PollPage]:
        """Every record created at or after the cursor minus the overlap (or since `since`),
        one query page (up to 2,000) at a time, following `nextRecordsUrl`. Each page's
        cursor is safe to store with its leads; the last page's moves up to when this poll
        began (the next poll looks back `poll_overlap` from then, not from the newest
        record, so a quiet org re-reads nothing)."""
        began = datetime.now(UTC)
        previous = parse_time(cursor) if cursor else None
        start = previous - self.settings.poll_overlap if previous else since
        soql = (f"SELECT {self._select} FROM {self.sobject} "
                f"WHERE CreatedDate >= {soql_datetime(start)} ORDER BY CreatedDate, Id")
        pager = SoqlPager(self.transport, f"{self.sobject}.poll", soql)
        newest = previous or since
        ceiling = max(cursor_ceiling(), previous) if previous else cursor_ceiling()
        for records in pager:
            leads = [lead for record in records if (lead := self._lead(record)) is not None]
            newest = max([newest, *(lead.created_at for lead in leads)])
            self.recent_owners.remember((lead.crm_id, lead.owner_id) for lead in leads)
            position = min(newest, ceiling)
            if not pager.has_more:
                position = max(position, min(began, ceiling))
            yield PollPage(leads, cursor_text(position), more=pager.has_more)

    def fetch(self, crm_ids: Sequence[str]) -> Sequence[CrmLead]:
        # One malformed id fails a whole `IN (...)` query (or here, `id_list`): ids that
        # cannot exist are dropped before any call, so they cannot fail the batch or cost one.
        ids = [valid for text in crm_ids if (valid := normalize_id(text)) is not None]
        if not ids:
            return []
        records = query_by_ids(self.transport, f"{self.sobject}.fetch",
                               f"SELECT {self._select} FROM {self.sobject} WHERE Id IN {{ids}}",
                               ids)
        leads = [lead for r in records if (lead := self._lead(r)) is not None]
        self.recent_owners.remember((lead.crm_id, lead.owner_id) for lead in leads)
        return leads

    # --- writing --------------------------------------------------------------------------
    def write_owners(self, writes: Sequence[OwnerWrite]) -> Sequence[OwnerWriteResult]:
        if not writes:
            return []
        return sobject_collections.write_owners(self.transport, self.sobject, writes,
                                                self.recent_owners)

    def find_tasks(self, tasks: Sequence[TaskRequest]) -> Mapping[str, str]:
        # SOQL reads the database itself (not a search index): a created Task is found
        # as soon as its insert has committed
        if not tasks:
            return {}
        return sobject_collections.existing_tasks(self.transport, tasks)

    def create_tasks(self, tasks: Sequence[TaskRequest], *, check_existing: bool
                     ) -> Sequence[TaskResult]:
        if not tasks:
            return []
        return sobject_collections.create_tasks(self.transport, tasks,
                                                check_existing=check_existing)

    def contact_attempts(self, queries: Sequence[AttemptQuery]) -> Sequence[AttemptState]:
        if not queries:
            return []
        return attempts.contact_attempts(self.transport, self.sobject, queries,
                                         self._default_statuses())

    def attempts_since(self, queries: Sequence[AttemptQuery], watermark: str | None
                       ) -> ActivityScan:
        """States of the watched leads whose record or tasks changed since the watermark
        (minus `poll_overlap`, for clock skew), from one Composite call; the next watermark
        is when this scan began. Activity before the oldest assignment is not looked at."""
        began = datetime.now(UTC)
        previous = parse_time(watermark) if watermark else None
        if not queries:
            return ActivityScan([], cursor_text(max(began, previous or began)))
        oldest = min(q.assigned_at for q in queries)
        since = max(previous or oldest, oldest) - self.settings.poll_overlap
        states = attempts.attempts_since(self.transport, self.sobject, queries, since,
                                         self._default_statuses())
        return ActivityScan(states, cursor_text(max(began, previous or began)))

    def _default_statuses(self) -> frozenset[str]:
        """The org's default Lead status, read once (Contacts have no status)."""
        if self.sobject != "Lead":
            return frozenset()
        with self._lock:
            if self._initial_statuses is None:
                self._initial_statuses = attempts.default_statuses(self.transport)
            return self._initial_statuses

    # --- email intake (connectors/salesforce/create.py) -----------------------------------
    def find_by_email_or_phone(self, emails: Sequence[str], phones: Sequence[str], *,
                               refs: Sequence[str] = (), ref_property: str = ""
                               ) -> ContactMatches:
        return intake_create.find(self.transport, self.sobject, self._select, emails, phones,
                                  self._lead, refs=refs, ref_property=ref_property)

    def create_lead(self, properties: Mapping[str, str]) -> CreatedLead:
        record = intake_create.new_record(self.settings, properties)
        email, phone = record.get("Email"), record.get("Phone")
        return intake_create.create(
            self.transport, self.sobject, record,
            lambda: self.find_by_email_or_phone([email] if email else [],
                                                [phone] if phone else []).of(email, phone))

    def close(self) -> None:
        self.transport.close()


def create_connector(settings: SalesforceConfig, fields: Mapping[str, str], *,
                     environ: Mapping[str, str] | None = None,
                     token_lifetime: float = DEFAULT_LIFETIME,
                     clock: Callable[[], float] = time.monotonic,
                     **transport_options: Any) -> SalesforceConnector:
    """Entry point `leadrouter.connectors: salesforce`. Secrets come from the environment;
    no request is made until the first call."""
    environ = os.environ if environ is None else environ
    timeout = settings.timeout.total_seconds()
    session = make_session(settings.ca_bundle)
    source = token_source(settings, environ, session, timeout=timeout,
                          lifetime=token_lifetime, clock=clock)
    transport = SalesforceTransport(
        instance_url=settings.instance_url, tokens=TokenKeeper(source, clock=clock),
        session=session, api_version=settings.api_version, timeout=timeout,
        api_reserve=settings.api_reserve, clock=clock, **transport_options)
    return SalesforceConnector(settings, fields, transport)
