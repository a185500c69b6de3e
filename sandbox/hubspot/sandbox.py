"""``HubSpotSandbox``: the emulator's server plus the admin API tests and demos drive."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sandbox._server import Faults, Response, TLSServer
from sandbox.emulator_base import ServedEmulator

from .app import HubSpotApp, RouteFault, is_write
from .emitter import WebhookEmitter
from .limits import RateLimiter
from .model import Record, now_ms, parse_time
from .search import value_of
from .seed import demo_owners, synthetic_contacts
from .store import Owner, PortalStore
from .users import AVAILABILITY
from .webhooks import WebhookSender

__all__ = ["HubSpotSandbox", "Timeish"]

Timeish = datetime | int | float | str | None  # datetime, epoch ms, ISO text, or now


def _ms(at: Timeish, default: int) -> int:
    if at is None:
        return default
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return int(at.timestamp() * 1000)
    if isinstance(at, int | float):
        return int(at)
    return parse_time(at)


class HubSpotSandbox(ServedEmulator):
    """An HTTPS HubSpot CRM emulator on 127.0.0.1 with an admin API for tests."""

    def __init__(self, port: int = 0, *, token: str | None = None,
                 ten_second_limit: int = 190, search_per_second: int = 5,
                 daily_limit: int = 1_000_000,
                 index_lag: float | Mapping[str, float] = 0.0,
                 faults: Faults | None = None) -> None:
        self.token = token or f"pat-na1-sandbox-{secrets.token_hex(8)}"
        self.store = PortalStore(index_lag=index_lag)
        self.limiter = RateLimiter(ten_second_limit, search_per_second, daily_limit)
        self.app = HubSpotApp(self.store, self.limiter, self.token)
        self.server = TLSServer(self.app, port=port, is_write=is_write,
                                fault_response=_fault_response)
        if faults is not None:
            self.server.faults = faults
        self.emitters: list[WebhookEmitter] = []

    # -- serving --------------------------------------------------------------------------------
    def stop(self) -> None:
        super().stop()
        for emitter in self.emitters:
            emitter.close()
        self.store.observers.clear()
        self.emitters.clear()

    @property
    def route_faults(self) -> dict[str, RouteFault]:
        """Per-endpoint slowness or errors, by request line: ``box.route_faults["POST
        /crm/v3/objects/tasks/batch/create"] = RouteFault(before=3.0)``."""
        return self.app.route_faults

    # -- search index -----------------------------------------------------------------------
    @property
    def index_lag(self) -> float:
        """Seconds search trails writes, for object types without their own lag."""
        return self.store.index.default_lag

    @index_lag.setter
    def index_lag(self, seconds: float) -> None:
        self.set_index_lag(seconds)

    def set_index_lag(self, seconds: float, *object_types: str) -> None:
        """Search trails writes by `seconds` for these object types ("contacts", "tasks",
        ...; none: every type). New records stay out of search, changed ones show their
        previous version, new associations do not filter yet; reads by id, batch reads
        and the associations API see every write at once."""
        with self.store.lock:
            self.store.index.set_lag(seconds, *object_types)

    # -- webhooks -----------------------------------------------------------------------------
    def subscribe_webhooks(self, url: str, client_secret: str, *,
                           properties: Iterable[str] | None = ("hubspot_owner_id",
                                                               "hs_lead_status"),
                           creation: bool = True, interval: float = 0.1,
                           duplicate: bool = False, out_of_order: bool = False,
                           ca_file: str | None = None) -> WebhookEmitter:
        """Deliver signed ``contact.creation`` / ``contact.propertyChange`` events for every
        later change to ``url`` (``properties=None``: every property). Changes made through
        the API carry ``changeSource`` INTEGRATION, admin-API ones CRM_UI."""
        sender = WebhookSender(url, client_secret, ca_file=ca_file)
        emitter = WebhookEmitter(sender, properties=properties, creation=creation,
                                 interval=interval, duplicate=duplicate,
                                 out_of_order=out_of_order)
        self.store.observers.append(emitter.observe)
        self.emitters.append(emitter)
        return emitter

    # -- counters ---------------------------------------------------------------------------------
    def counters(self) -> dict[str, Any]:
        """Calls per endpoint, 429s per policy, 401s, daily usage, store sizes."""
        with self.app._lock:
            calls = dict(self.app.calls)
            limited = dict(self.app.rate_limited)
        return {
            "calls": calls,
            "total_calls": sum(calls.values()),
            "rate_limited": limited,
            "rate_limited_total": sum(limited.values()),
            "unauthorized": self.app.unauthorized,
            "daily_used": self.limiter.daily_used,
            "objects": {t: len(s.records) for t, s in self.store.types.items()},
        }

    def reset_limits(self) -> None:
        """Empty the rate windows and the daily counter."""
        self.limiter.reset()

    # -- seeding --------------------------------------------------------------------------------
    def seed_demo(self) -> list[str]:
        """The fixed demo owners 1001-1009 and the 1090 'Admissions Inbox' queue; their ids."""
        created = now_ms() - 90 * 86_400_000
        return [self.store.add_owner(o).id for o in demo_owners(created)]

    def add_owner(self, owner_id: str, email: str, first_name: str, last_name: str, *,
                  type: str = "PERSON", teams: Iterable[str] = ()) -> str:
        teams_json = [{"id": str(600 + i), "name": t, "primary": i == 0}
                      for i, t in enumerate(teams)]
        self.store.add_owner(Owner(owner_id, email, first_name, last_name,
                                   int(owner_id) + 7_000_000, type, teams_json))
        return owner_id

    def deactivate_owner(self, owner_id: str) -> None:
        """Archive an owner (a deactivated user): it no longer lists, nor accepts records."""
        with self.store.lock:
            owner = self.store.owners[owner_id]
            owner.archived = True
            owner.updated_ms = now_ms()

    def set_availability(self, owner_id: str, status: str) -> None:
        """The owner's user sets their HubSpot availability ("available" or "away")."""
        if status not in AVAILABILITY:
            raise ValueError('availability is "available" or "away"')
        with self.store.lock:
            owner = self.store.owners[owner_id]
            owner.availability = status
            owner.updated_ms = now_ms()

    def seed_contacts(self, n: int, *, owned_fraction: float = 0.0,
                      created_between: tuple[Timeish, Timeish] | None = None,
                      rng_seed: int | None = 7) -> list[str]:
        """Bulk-create ``n`` synthetic contacts (default: created over the last 24 h)."""
        now = now_ms()
        if created_between is None:
            start, end = now - 86_400_000, now
        else:
            start, end = _ms(created_between[0], now), _ms(created_between[1], now)
        owners = [o.id for o in self.store.owners.values()
                  if o.type == "PERSON" and not o.archived]
        rows = synthetic_contacts(n, start_ms=start, end_ms=end, owner_ids=owners,
                                  owned_fraction=owned_fraction, rng_seed=rng_seed,
                                  first_serial=self.store._next_id)
        return self.store.add_many("contacts", rows)

    def create_contact(self, properties: dict[str, str], created_at: Timeish = None) -> str:
        """Create one contact as a form or import would (validated like an API write)."""
        with self.store.lock:
            props = self.store.check_props("contacts", properties)
            now = now_ms()
            return self.store.create("contacts", props, created_ms=_ms(created_at, now)).id

    def define_property(self, object_type: str, name: str, options: Iterable[str] = ()) -> None:
        """Create a portal property (e.g. a routing-metadata field) so writes to it succeed."""
        self.store.define_property(object_type, name, options)

    # -- coordinator play ----------------------------------------------------------------------
    def _engagement(self, kind: str, contact_id: str, owner_id: str | None, at: Timeish,
                    props: dict[str, str]) -> str:
        with self.store.lock:
            contact = self._contact_rec(contact_id)
            owner = owner_id or contact.props.get("hubspot_owner_id", "")
            props = {"hs_timestamp": str(_ms(at, now_ms())), **props}
            if owner:
                props["hubspot_owner_id"] = owner
            checked = self.store.check_props(kind, props)
            type_id = {"calls": 194, "emails": 198, "notes": 202}[kind]
            rec = self.store.create(kind, checked,
                                    associations=[("contacts", contact_id, type_id)])
            return rec.id

    def log_call(self, contact_id: str, owner_id: str | None = None, at: Timeish = None,
                 *, disposition: str = "f240bbac-87c9-4f6e-bf70-924b57d47db7") -> str:
        """A coordinator logs an outbound call (updates the contact's last-contacted fields)."""
        return self._engagement("calls", contact_id, owner_id, at, {
            "hs_call_direction": "OUTBOUND", "hs_call_status": "COMPLETED",
            "hs_call_disposition": disposition, "hs_call_title": "Admissions call"})

    def log_email(self, contact_id: str, owner_id: str | None = None, at: Timeish = None) -> str:
        """A coordinator logs an outbound email."""
        return self._engagement("emails", contact_id, owner_id, at, {
            "hs_email_direction": "EMAIL", "hs_email_status": "SENT",
            "hs_email_subject": "Following up on your inquiry"})

    def complete_task(self, task_id: str) -> None:
        with self.store.lock:
            if self.store.update("tasks", task_id, {"hs_task_status": "COMPLETED"}) is None:
                raise KeyError(f"no task {task_id}")

    def set_owner_by_hand(self, contact_id: str, owner_id: str | None) -> None:
        """A person changes the owner in the HubSpot UI (None clears it)."""
        with self.store.lock:
            self._contact_rec(contact_id)
            props = self.store.check_props("contacts", {"hubspot_owner_id": owner_id or ""})
            self.store.update("contacts", contact_id, props)

    def set_lead_status(self, contact_id: str, status: str) -> None:
        with self.store.lock:
            self._contact_rec(contact_id)
            props = self.store.check_props("contacts", {"hs_lead_status": status})
            self.store.update("contacts", contact_id, props)

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        """Any other edit a person makes in the UI."""
        with self.store.lock:
            self._contact_rec(contact_id)
            self.store.update("contacts", contact_id,
                              self.store.check_props("contacts", properties))

    # -- read back ------------------------------------------------------------------------------
    def _contact_rec(self, contact_id: str) -> Record:
        rec = self.store.get("contacts", contact_id)
        if rec is None:
            raise KeyError(f"no contact {contact_id}")
        return rec

    def _snapshot(self, object_type: str, rec: Record) -> dict[str, Any]:
        props = {k: v for k, v in rec.props.items() if v != ""}
        for name in (("createdate", "lastmodifieddate") if object_type == "contacts"
                     else ("hs_createdate", "hs_lastmodifieddate")):
            props[name] = value_of(rec, name) or ""
        props["hs_object_id"] = rec.id
        return {"id": rec.id, "properties": props, "created_ms": rec.created_ms,
                "updated_ms": rec.updated_ms,
                "contact_ids": sorted(self.store.assoc_ids(object_type, rec.id, "contacts"),
                                      key=int)}

    def contact(self, contact_id: str) -> dict[str, Any]:
        """A copy of one contact: ``{"id", "properties", "created_ms", "updated_ms"}``."""
        with self.store.lock:
            return self._snapshot("contacts", self._contact_rec(contact_id))

    def contact_ids(self) -> list[str]:
        with self.store.lock:
            return [r.id for r in self.store.types["contacts"].records.values()
                    if not r.archived]

    def _engagements_for(self, kind: str, contact_id: str) -> list[dict[str, Any]]:
        with self.store.lock:
            ids = sorted(self.store.assoc_ids("contacts", contact_id, kind), key=int)
            return [self._snapshot(kind, r) for i in ids
                    if (r := self.store.get(kind, i)) is not None]

    def tasks_for(self, contact_id: str) -> list[dict[str, Any]]:
        """Tasks associated with a contact, oldest first."""
        return self._engagements_for("tasks", contact_id)

    def calls_for(self, contact_id: str) -> list[dict[str, Any]]:
        return self._engagements_for("calls", contact_id)

    def all_tasks(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [self._snapshot("tasks", r)
                    for r in sorted(self.store.types["tasks"].records.values(),
                                    key=lambda r: r.num) if not r.archived]

    def owner(self, owner_id: str) -> dict[str, Any]:
        with self.store.lock:
            return self.store.owners[owner_id].to_json()


def _fault_response(status: int) -> Response:
    from .app import error

    messages = {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return error(status, messages.get(status, "error"), "INTERNAL_ERROR")

