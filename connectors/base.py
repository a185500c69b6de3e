"""The port every CRM adapter implements, and the values that cross it.

Connectors speak CRM; they never touch the store. Everything they return carries CRM ids
and routing attributes only. Errors are sorted once, per connector, into the three kinds
below; the sync layer decides what each kind means for the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from connectors.webhooks import WebhookSource
from routing.models import frozen_map


class CrmError(Exception):
    """Base of connector errors; messages carry endpoints and status codes, never lead data."""

    phi_safe = True

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetriableError(CrmError):
    """429, 5xx, timeouts, resets: back off (honouring Retry-After) and try again."""


class FatalError(CrmError):
    """Other 4xx: this request will never succeed as sent; record it and move on."""


class AuthError(CrmError):
    """Bad or expired credentials, missing scopes, exhausted budget: a person must act."""


@dataclass(frozen=True, slots=True)
class CrmOwner:
    id: str
    email: str | None
    active: bool
    is_queue: bool = False


@dataclass(frozen=True, slots=True)
class CrmLead:
    """A contact/lead as routing sees it."""

    crm_id: str
    created_at: datetime
    owner_id: str | None  # the CRM's owner right now
    eligible: bool  # unowned / placeholder-owned and passing the configured filters
    attributes: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PollPage:
    leads: Sequence[CrmLead]
    cursor: str  # store it with the leads, in the same transaction
    more: bool  # another page is waiting right now


@dataclass(frozen=True, slots=True)
class OwnerWrite:
    crm_id: str
    owner_id: str
    # the owners we may replace: none, a placeholder, or our own earlier assignment
    replaceable: frozenset[str | None]
    properties: Mapping[str, str] = field(default_factory=frozen_map)  # type: ignore[arg-type]


class WriteOutcome(StrEnum):
    WRITTEN = "written"
    ALREADY = "already"  # the CRM already had this owner
    OVERRIDDEN = "overridden"  # a person set another owner since: leave it
    MISSING = "missing"  # the record is gone (deleted / merged)
    REJECTED = "rejected"  # the CRM refused this write (fatal for this record)


@dataclass(frozen=True, slots=True)
class OwnerWriteResult:
    crm_id: str
    outcome: WriteOutcome
    current_owner: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRequest:
    key: str  # idempotency marker, written into the task body
    crm_id: str
    owner_id: str
    subject: str
    due: datetime
    priority: str  # HIGH | MEDIUM | LOW
    type: str = "CALL"


@dataclass(frozen=True, slots=True)
class TaskResult:
    key: str
    task_id: str | None
    created: bool  # False when an existing task with the marker was found
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptQuery:
    crm_id: str
    assigned_at: datetime
    owner_id: str
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptState:
    crm_id: str
    owner_id: str | None  # the CRM's owner now (to notice a person's reassignment)
    attempted_at: datetime | None  # first contact attempt after assignment, if any
    signal: str | None = None  # what showed it: call, email, last_contacted, status, task_done
    exists: bool = True


@dataclass(frozen=True, slots=True)
class CreatedLead:
    """The record an intake create made, or found (a duplicate the CRM pointed to)."""

    crm_id: str
    created: bool  # False: the CRM already had a record with this email (its id)


@dataclass(frozen=True, slots=True)
class ActivityScan:
    """Contact attempts seen in what changed in the CRM since the last scan (an optional
    `attempts_since(queries, watermark)` of a connector; see `attempts_since` below)."""

    states: Sequence[AttemptState]  # only leads whose record or routing task changed
    watermark: str  # store it; the next scan passes it back
    complete: bool = True  # False: too much changed to search; read every lead instead


@dataclass(frozen=True, slots=True)
class ContactMatches:
    """Records found by email (lower-cased) and by phone (as asked), oldest first."""

    by_email: Mapping[str, Sequence[CrmLead]] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    by_phone: Mapping[str, Sequence[CrmLead]] = field(default_factory=frozen_map)  # type: ignore[arg-type]
    by_ref: Mapping[str, Sequence[CrmLead]] = field(default_factory=frozen_map)  # type: ignore[arg-type]

    def of(self, email: str | None, phone: str | None, ref: str | None = None
           ) -> list[CrmLead]:
        """One lead's matches: by its intake reference, its email, then its phone; each
        record once."""
        found: dict[str, CrmLead] = {}
        for lead in [*self.by_ref.get(ref or "", ()),
                     *self.by_email.get((email or "").lower(), ()),
                     *self.by_phone.get(phone or "", ())]:
            found.setdefault(lead.crm_id, lead)
        return list(found.values())


@runtime_checkable
class Connector(Protocol):
    """One CRM. All methods batch; none is called once per lead in a loop."""

    kind: str

    def owners(self) -> Sequence[CrmOwner]:
        """Every owner/user/queue the CRM knows, active or not."""
        ...

    def poll(self, cursor: str | None, since: datetime, limit: int) -> PollPage:
        """Records created at or after the cursor (minus the overlap), or since `since` if
        there is no cursor yet, oldest first."""
        ...

    def fetch(self, crm_ids: Sequence[str]) -> Sequence[CrmLead]:
        """Current state of these records; unknown ids are left out."""
        ...

    def write_owners(self, writes: Sequence[OwnerWrite]) -> Sequence[OwnerWriteResult]:
        """Compare with the CRM's owner now, then write where still replaceable."""
        ...

    def find_tasks(self, tasks: Sequence[TaskRequest]) -> Mapping[str, str]:
        """Tasks already carrying one of these markers: {request key: task id}. Must see a
        create as soon as the CRM has applied it (never an eventually consistent index),
        or an uncertain create would be repeated."""
        ...

    def create_tasks(self, tasks: Sequence[TaskRequest], *, check_existing: bool
                     ) -> Sequence[TaskResult]:
        """Create follow-up tasks; with check_existing, find tasks already carrying the
        marker first (`find_tasks`, after an uncertain failure) so no task is created
        twice. Each create is sent once, never retried blindly."""
        ...

    def contact_attempts(self, queries: Sequence[AttemptQuery]) -> Sequence[AttemptState]:
        """Whether each lead was contacted since it was assigned."""
        ...

    def placeholder_owner_ids(self) -> frozenset[str]:
        """Owners that stand for "nobody yet": a record they own is still to be routed."""
        ...

    def eligibility_properties(self) -> frozenset[str]:
        """CRM properties whose change can make a skipped record eligible (the owner, the
        configured filters): a webhook about such a change is a hint too."""
        ...

    def metadata_properties(self) -> Mapping[str, str]:
        """Routing metadata written back with an owner: rule / coordinator / routed_at /
        sla_due -> CRM property name (only those configured)."""
        ...

    def record_link(self, crm_id: str) -> str:
        """The URL of the record in the CRM's own UI."""
        ...

    def webhook_source(self, environ: Mapping[str, str], *, terminates_tls: bool
                       ) -> WebhookSource | None:
        """This CRM's webhooks as configured (secrets from `environ`), None when they are
        off; `terminates_tls`: the service serves HTTPS itself (client certificates are
        seen). WebhookSetupError when they are configured in a way that cannot work."""
        ...

    def find_by_email_or_phone(self, emails: Sequence[str], phones: Sequence[str], *,
                               refs: Sequence[str] = (), ref_property: str = ""
                               ) -> ContactMatches:
        """Records holding these emails or phones (or these values of `ref_property`),
        batched (a few calls for a whole chunk of messages). Email and reference lookups
        must see a create at once (not a lagging index), so an uncertain create is found
        again before it is retried."""
        ...

    def create_lead(self, properties: Mapping[str, str]) -> CreatedLead:
        """Create one contact / Lead with these CRM properties (values may be PHI: never put
        them in errors or logs). Sent once, never retried blindly; a duplicate the CRM
        names comes back as `created=False` with the existing id."""
        ...

    def close(self) -> None: ...


def batch_size(connector: object, default: int = 100) -> int:
    """Records per batched call a connector takes: an optional `batch_size` attribute
    (HubSpot batch APIs 100, Salesforce sObject Collections 200), else `default`."""
    size = getattr(connector, "batch_size", None)
    return size if isinstance(size, int) and size > 0 else default


def api_url(connector: object) -> str:
    """The base URL of the CRM API a connector calls: an optional `api_url` attribute, else
    "" (shown when the service starts, never needed)."""
    url = getattr(connector, "api_url", "")
    return url if isinstance(url, str) else ""


def attempts_since(connector: object, queries: Sequence[AttemptQuery],
                   watermark: str | None) -> ActivityScan | None:
    """Contact attempts by activity through an optional `attempts_since` method of the
    connector: one search (or query) per scan for what changed since `watermark` (None: the
    first scan), whatever the number of `queries`; None when the connector has none (then
    every lead is read with `contact_attempts`)."""
    method = getattr(connector, "attempts_since", None)
    if not callable(method):
        return None
    found = method(queries, watermark)
    return found if isinstance(found, ActivityScan) else None


def away_owners(connector: object) -> frozenset[str] | None:
    """CRM owner ids the CRM itself shows as away now, through an optional
    `away_owners()` method of the connector; None when the connector has none or its
    availability feature is off (then nobody is away by the CRM)."""
    method = getattr(connector, "away_owners", None)
    if not callable(method):
        return None
    found = method()
    return None if found is None else frozenset(str(owner) for owner in found)


__all__ = [
    "ActivityScan",
    "AttemptQuery",
    "AttemptState",
    "AuthError",
    "Connector",
    "ContactMatches",
    "CreatedLead",
    "CrmError",
    "CrmLead",
    "CrmOwner",
    "FatalError",
    "OwnerWrite",
    "OwnerWriteResult",
    "PollPage",
    "RetriableError",
    "TaskRequest",
    "TaskResult",
    "WriteOutcome",
    "api_url",
    "attempts_since",
    "away_owners",
    "batch_size",
]
