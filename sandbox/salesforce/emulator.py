"""``SalesforceSandbox``: the HTTPS emulator plus the admin API used by tests, demo, benchmarks."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from sandbox._server import Faults, TLSServer
from sandbox.emulator_base import ServedEmulator
from sandbox.salesforce.app import SalesforceApp, is_write
from sandbox.salesforce.oauth import OAuthClient
from sandbox.salesforce.outbound import (
    DEFAULT_FIELDS,
    Delivery,
    OutboundDispatcher,
    OutboundRule,
    OutboundSender,
)
from sandbox.salesforce.schema import ApiError, Field
from sandbox.salesforce.seed import RULE_QUEUE, DemoIds, ensure_queue, seed_demo, seed_people
from sandbox.salesforce.store import Store

__all__ = ["SalesforceSandbox"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceSandbox(ServedEmulator):
    """An emulated Salesforce org served over HTTPS on 127.0.0.1 (see package docstring).

    Connection: ``instance_url`` (= ``base_url``), ``token``, ``ca_file``, ``organization_id``.
    Knobs: ``faults``, ``daily_limit``, ``min_batch_size``, ``assignment_rule_active``,
    ``clock`` (constructor). Observation: ``request_log``/``clear_log()``, ``counters``,
    ``api_calls``. Seeding: ``seed_demo()``, ``seed_leads()``, ``seed_contacts()``,
    ``add_custom_field()``. A person in the org: ``create_lead()``, ``log_call()``,
    ``complete_task()``, ``set_owner()``, ``set_lead_status()``, ``update_record()`` (no API
    call counted, no assignment rule). State: ``get()``, ``records()``, ``leads()``,
    ``contacts()``, ``tasks()``, ``users()``, ``queues()`` (copies). Outbound Messages:
    ``send_outbound()`` (explicit), ``enable_outbound()``/``flush_outbound()`` (automatic on
    committed saves). Tokens: ``token_url``, ``oauth_client_id``/``oauth_client_secret``,
    ``register_oauth_client()``, ``revoke_tokens()``, ``rotate_token()``.
    """

    def __init__(self, port: int = 0, *, token: str | None = None, daily_limit: int = 15000,
                 api_version: str = "59.0", faults: Faults | None = None,
                 clock: Callable[[], datetime] | None = None,
                 assignment_rule_active: bool = True) -> None:
        self.token = token or "00D" + secrets.token_hex(8) + "!sandbox." + secrets.token_hex(16)
        self.api_version = api_version
        self.store = Store(clock or _utcnow, api_version)
        self.app = SalesforceApp(self.store, token=self.token, daily_limit=daily_limit,
                                 api_version=api_version)
        self.server = TLSServer(self.app, port=port, is_write=is_write,
                                fault_response=self.app.fault_response)
        if faults is not None:
            self.server.faults = faults
        self._demo_ids: DemoIds | None = None
        self._rule_queue = ensure_queue(self.store, RULE_QUEUE, "Lead_Triage")
        self.store.assignment_rule_queue_id = self._rule_queue if assignment_rule_active else None
        self.outbound = OutboundSender(self.store, "https://127.0.0.1", api_version)
        self.oauth_client_id = "3MVG9" + secrets.token_hex(20)
        self.oauth_client_secret = secrets.token_hex(32)
        self.app.oauth.clients[self.oauth_client_id] = OAuthClient(
            self.oauth_client_id, self.oauth_client_secret)
        self.dispatcher = OutboundDispatcher(self.outbound)
        self.store.listeners.append(self.dispatcher.on_save)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        super().start()
        self.outbound.instance_url = self.instance_url
        self.app.oauth.instance_url = self.instance_url
        return self

    def stop(self) -> None:
        self.dispatcher.stop()
        super().stop()

    # -- connection details ------------------------------------------------------------------------
    @property
    def instance_url(self) -> str:
        """``https://127.0.0.1:<port>`` (empty until started)."""
        return self.server.base_url

    @property
    def organization_id(self) -> str:
        return self.store.organization_id

    # -- tokens ----------------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        """``POST`` here for client-credentials / JWT-bearer tokens (see ``oauth`` module)."""
        return f"{self.instance_url}/services/oauth2/token"

    def register_oauth_client(self, client_id: str, *, client_secret: str | None = None,
                              public_key_pem: str | None = None,
                              run_as: str | None = None) -> None:
        """A connected app: a secret for client credentials, a PEM public key (or
        certificate's key) for JWT bearer; ``run_as`` = user handle/id for client credentials."""
        self.app.oauth.clients[client_id] = OAuthClient(client_id, client_secret,
                                                        public_key_pem, self._actor(run_as))

    def revoke_tokens(self) -> None:
        """Invalidate every OAuth-issued token (the fixed ``token`` stays valid)."""
        self.app.oauth.revoke_all()

    def rotate_token(self) -> str:
        """Replace the fixed token (the old one now gets 401 INVALID_SESSION_ID)."""
        self.token = "00D" + secrets.token_hex(8) + "!sandbox." + secrets.token_hex(16)
        self.app.token = self.token
        return self.token

    # -- limits and counters -----------------------------------------------------------------------
    @property
    def daily_limit(self) -> int:
        return self.app.daily_limit

    @daily_limit.setter
    def daily_limit(self, value: int) -> None:
        self.app.daily_limit = value

    @property
    def api_calls(self) -> int:
        """API calls counted against the daily limit since start (or the last reset)."""
        return self.app.api_calls

    def reset_api_usage(self) -> None:
        self.app.api_calls = 0

    @property
    def counters(self) -> dict[str, int]:
        """Requests by kind: api_calls, query, query_more, sobject_create/get/update,
        composite, composite_sobjects, limits, invalid_session, limit_exceeded, ..."""
        return dict(self.app.counters)

    @property
    def min_batch_size(self) -> int:
        """Smallest honoured ``batchSize`` (Salesforce: 200); tests may lower it."""
        return self.app.min_batch_size

    @min_batch_size.setter
    def min_batch_size(self, value: int) -> None:
        self.app.min_batch_size = value

    # -- the assignment-rule trap ------------------------------------------------------------------
    @property
    def assignment_rule_queue_id(self) -> str:
        """The queue the org's "active assignment rule" gives Leads to."""
        return self._rule_queue

    @property
    def assignment_rule_active(self) -> bool:
        return self.store.assignment_rule_queue_id is not None

    @assignment_rule_active.setter
    def assignment_rule_active(self, active: bool) -> None:
        self.store.assignment_rule_queue_id = self._rule_queue if active else None

    # -- seeding -----------------------------------------------------------------------------------
    def seed_demo(self) -> DemoIds:
        """Coordinators (maria, li, james, sofia, devon, aisha, carlos, priya), the supervisor
        dana, the inactive jordan, the Contact placeholder owner intake, the queues
        "Admissions Inbox" and the assignment-rule queue. Idempotent; other admin helpers
        call it when they need owners."""
        self._demo_ids = seed_demo(self.store)
        return self._demo_ids

    @property
    def _demo(self) -> DemoIds:
        return self._demo_ids if self._demo_ids is not None else self.seed_demo()

    @property
    def admissions_inbox_id(self) -> str:
        return self._demo.admissions_inbox

    @property
    def coordinator_ids(self) -> dict[str, str]:
        """Active coordinators by handle (no supervisor, placeholder or inactive user)."""
        return {h: u for h, u in self._demo.users.items()
                if h not in ("dana", "jordan", "intake")}

    def user_id(self, handle_or_email: str) -> str:
        """Id of a demo user by handle ("maria") or email/username."""
        key = handle_or_email.split("@", 1)[0]
        if key in self._demo.users:
            return self._demo.users[key]
        for rec in self.store.records["User"].values():
            if handle_or_email in (rec.get("Username"), rec.get("Email")):
                return str(rec["Id"])
        raise KeyError(handle_or_email)

    def _window(self, created_between: tuple[datetime, datetime] | None
                ) -> tuple[datetime, datetime]:
        if created_between is not None:
            return created_between
        now = self.store.now()
        return now - timedelta(hours=24), now

    def seed_leads(self, n: int, *, owned_fraction: float = 0.0,
                   created_between: tuple[datetime, datetime] | None = None,
                   rng_seed: int = 7) -> list[str]:
        """``n`` Leads (default window: the last 24 h), owned by the Admissions Inbox queue
        unless a random coordinator owns them (``owned_fraction``)."""
        return seed_people(self.store, "Lead", n, owners=list(self.coordinator_ids.values()),
                           unowned_owner=self._demo.admissions_inbox,
                           owned_fraction=owned_fraction,
                           created_between=self._window(created_between), rng_seed=rng_seed)

    def seed_contacts(self, n: int, *, owned_fraction: float = 0.0,
                      created_between: tuple[datetime, datetime] | None = None,
                      rng_seed: int = 11) -> list[str]:
        """``n`` Contacts; unowned ones belong to the placeholder user "intake" (a queue
        cannot own a Contact in Salesforce)."""
        return seed_people(self.store, "Contact", n, owners=list(self.coordinator_ids.values()),
                           unowned_owner=self._demo.users["intake"],
                           owned_fraction=owned_fraction,
                           created_between=self._window(created_between), rng_seed=rng_seed)

    def add_custom_field(self, sobject: str, name: str, type_: str = "string") -> None:
        """Add a field (e.g. ``LeadRouter_Rule__c``) to an object's schema."""
        with self.store.lock:
            self.store.schema(sobject).add(Field(name, type_))
            for rec in self.store.records[sobject].values():
                rec.setdefault(name, None)

    def set_user_away(self, user_id: str, away: bool, *, field: str = "Is_Away__c") -> None:
        """Check or clear a User checkbox marking the user away (the field an admin adds
        for leadrouter's `[crm.salesforce] away_field`); the field is added on first use,
        unchecked for every user, as a new checkbox field is."""
        with self.store.lock:
            user = self.store.schema("User")
            if user.lookup(field) is None:
                user.add(Field(field, "boolean", default=False))
                for rec in self.store.records["User"].values():
                    rec.setdefault(field, False)
        self.update_record(user_id, {field: away})

    # -- playing a person in the org ---------------------------------------------------------------
    def _actor(self, by: str | None) -> str | None:
        if by is None:
            return None
        return by if by.startswith("005") else self.user_id(by)

    def create_record(self, sobject: str, fields: dict[str, Any], *,
                      by: str | None = None) -> str:
        """Create as a person or web form would (no API call counted, no assignment rule)."""
        values = dict(fields)
        if sobject == "Lead":
            values.setdefault("OwnerId", self._demo.admissions_inbox)
        return self.store.insert(sobject, values, actor=self._actor(by), admin=True)

    def create_lead(self, **fields: Any) -> str:
        """A new Lead arriving (web form, call): owned by the Admissions Inbox queue."""
        fields.setdefault("Company", "[not provided]")
        fields.setdefault("LastName", "Sample")
        return self.create_record("Lead", fields)

    def log_call(self, who_id: str, *, by: str, subject: str = "Call",
                 completed: bool = True, description: str | None = None) -> str:
        """A coordinator logs a call on a Lead/Contact: a Task with TaskSubtype 'Call'."""
        actor = self._actor(by)
        return self.store.insert("Task", {
            "WhoId": who_id, "OwnerId": actor, "Subject": subject, "TaskSubtype": "Call",
            "Type": "Call", "Status": "Completed" if completed else "Not Started",
            "ActivityDate": self.store.now().date().isoformat(), "Description": description,
        }, actor=actor, admin=True)

    def complete_task(self, task_id: str, *, by: str | None = None) -> None:
        self.store.update("Task", task_id, {"Status": "Completed"}, actor=self._actor(by),
                          admin=True)

    def set_owner(self, record_id: str, owner_id: str, *, by: str | None = None) -> None:
        """A person changes the owner by hand (no assignment rule runs)."""
        sobject = self._sobject(record_id)
        self.store.update(sobject, record_id, {"OwnerId": owner_id}, actor=self._actor(by),
                          admin=True)

    def set_lead_status(self, lead_id: str, status: str, *, by: str | None = None) -> None:
        self.store.update("Lead", lead_id, {"Status": status}, actor=self._actor(by), admin=True)

    def update_record(self, record_id: str, fields: dict[str, Any], *,
                      by: str | None = None) -> None:
        self.store.update(self._sobject(record_id), record_id, fields, actor=self._actor(by),
                          admin=True)

    def _sobject(self, record_id: str) -> str:
        found = self.store.find(record_id)
        if found is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return found[0]

    # -- reading state -----------------------------------------------------------------------------
    def get(self, record_id: str) -> dict[str, Any]:
        """A copy of one record (KeyError if absent)."""
        with self.store.lock:
            found = self.store.find(record_id)
            if found is None:
                raise KeyError(record_id)
            return copy.deepcopy(found[1])

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of all records of a type, in creation order."""
        with self.store.lock:
            return copy.deepcopy(list(self.store.records[self.store.schema(sobject).name]
                                      .values()))

    def leads(self) -> list[dict[str, Any]]:
        return self.records("Lead")

    def contacts(self) -> list[dict[str, Any]]:
        return self.records("Contact")

    def tasks(self, who_id: str | None = None) -> list[dict[str, Any]]:
        return [t for t in self.records("Task") if who_id is None or t.get("WhoId") == who_id]

    def users(self) -> list[dict[str, Any]]:
        return self.records("User")

    def queues(self) -> list[dict[str, Any]]:
        return [g for g in self.records("Group") if g.get("Type") == "Queue"]

    # -- outbound messages -------------------------------------------------------------------------
    def send_outbound(self, url: str, record_ids: Sequence[str], *,
                      fields: Sequence[str] = DEFAULT_FIELDS, duplicates: int = 0,
                      shuffle_seed: int | None = None, verify: bool | str = True,
                      timeout: float = 10.0) -> list[Delivery]:
        """Post Outbound Message notifications for these records to ``url``."""
        return self.outbound.send(url, record_ids, fields=fields, duplicates=duplicates,
                                  shuffle_seed=shuffle_seed, verify=verify, timeout=timeout)

    def enable_outbound(self, url: str, *, sobject: str = "Lead",
                        events: Sequence[str] = ("create",),
                        fields: Sequence[str] = DEFAULT_FIELDS, verify: bool | str = True,
                        duplicates: int = 0, retry_interval: float = 1.0,
                        max_attempts: int = 5) -> OutboundRule:
        """From now on, every committed create (and/or update) of ``sobject`` - through the
        API or the admin helpers - is announced to ``url`` by a background sender, batched
        up to 100 per message, re-sent when not acknowledged. Returns the rule."""
        rule = OutboundRule(url, sobject, tuple(events), tuple(fields), verify, duplicates,
                            retry_interval, max_attempts)
        self.dispatcher.add_rule(rule)
        return rule

    def disable_outbound(self) -> None:
        """Drop all outbound rules (already queued notifications are still sent)."""
        self.dispatcher.clear_rules()

    def flush_outbound(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was delivered (or gave up)."""
        return self.dispatcher.flush(timeout)
