"""One small adapter per CRM: seeding its sandbox and playing a coordinator in it.

The contract tests speak only to this interface and to the `Connector` port; everything
CRM-specific (owner ids, what "unowned" looks like, which limit answer a CRM gives) lives here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Connector
from connectors.hubspot.connector import create_connector as create_hubspot
from connectors.salesforce.connector import create_connector as create_salesforce
from connectors.settings import HubSpotConfig, SalesforceConfig
from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox


def window(minutes_from: float = 180, minutes_to: float = 2) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=minutes_from), now - timedelta(minutes=minutes_to)


class Crm:
    """What a contract test needs from a CRM's sandbox."""

    kind: str
    box: Any
    fields: Mapping[str, str]
    unowned: str | None  # the owner of a fresh, unassigned record
    placeholder: str  # an owner listed in placeholder_owners
    people: list[str]  # three active person owners
    inactive: str  # a deactivated person owner
    attempt_signals: frozenset[str]  # what a logged call may be reported as
    status_signal: str

    def connector(self, token: str | None = None, **options: Any) -> Connector:
        raise NotImplementedError

    def seed(self, n: int, *, owned: float = 0.0, rng_seed: int = 1,
             between: tuple[datetime, datetime] | None = None) -> list[str]:
        raise NotImplementedError

    def create_now(self) -> str:
        raise NotImplementedError

    def owner_now(self, record_id: str) -> str | None:
        raise NotImplementedError

    def set_owner_by_hand(self, record_id: str, owner_id: str) -> None:
        raise NotImplementedError

    def task_owners(self, record_id: str) -> list[str]:
        raise NotImplementedError

    def log_call(self, record_id: str, owner_id: str) -> None:
        raise NotImplementedError

    def move_status(self, record_id: str) -> None:
        raise NotImplementedError

    def complete_task(self, task_id: str) -> None:
        raise NotImplementedError

    def exhaust_limit(self) -> None:
        raise NotImplementedError

    def throttle(self) -> bool:
        """Make the sandbox answer 429 to request bursts; False if the CRM has no such limit."""
        return False

    def server_calls(self) -> int:
        """API requests the sandbox counted (server side, synchronous with the answer)."""
        raise NotImplementedError

    def set_faults(self, faults: Faults) -> None:
        self.box.faults = faults

    def lag_search(self, seconds: float) -> None:
        """Make the CRM's search trail writes by `seconds`, where it has such an index
        (HubSpot's search API); a CRM whose queries read the database itself ignores it."""

    def logged(self, method: str, path_part: str, expected: int,
               timeout: float = 2.0) -> int:
        """Requests in the sandbox's log (appended just after the answer: wait a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            found = sum(1 for r in self.box.request_log
                        if method in ("", r.method) and path_part in r.path)
            if found >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.01)


class HubSpotCrm(Crm):
    kind = "hubspot"
    unowned = None
    placeholder = "1090"
    inactive = "1008"
    attempt_signals = frozenset({"last_contacted", "sales_activity"})
    status_signal = "lead_status"

    def __init__(self, box: HubSpotSandbox) -> None:
        self.box = box
        self.fields = {"insurance": "insurance_type", "state": "state"}
        self.people = ["1001", "1002", "1003"]
        box.seed_demo()
        box.deactivate_owner(self.inactive)

    def connector(self, token: str | None = None, **options: Any) -> Connector:
        settings = HubSpotConfig(base_url=self.box.base_url, ca_bundle=self.box.ca_file,
                                 token_env="CONTRACT_TOKEN", placeholder_owners=("1090",))
        return create_hubspot(settings, self.fields,
                              environ={"CONTRACT_TOKEN": token or self.box.token}, **options)

    def seed(self, n: int, *, owned: float = 0.0, rng_seed: int = 1,
             between: tuple[datetime, datetime] | None = None) -> list[str]:
        ids: list[str] = self.box.seed_contacts(n, owned_fraction=owned,
                                                created_between=between or window(),
                                                rng_seed=rng_seed)
        return ids

    def create_now(self) -> str:
        return str(self.box.create_contact({"firstname": "Later"}))

    def owner_now(self, record_id: str) -> str | None:
        return self.box.contact(record_id)["properties"].get("hubspot_owner_id") or None

    def set_owner_by_hand(self, record_id: str, owner_id: str) -> None:
        self.box.set_owner_by_hand(record_id, owner_id)

    def task_owners(self, record_id: str) -> list[str]:
        return [t["properties"].get("hubspot_owner_id") for t in self.box.tasks_for(record_id)]

    def log_call(self, record_id: str, owner_id: str) -> None:
        self.box.log_call(record_id, owner_id=owner_id)

    def move_status(self, record_id: str) -> None:
        self.box.set_lead_status(record_id, "ATTEMPTED_TO_CONTACT")

    def complete_task(self, task_id: str) -> None:
        self.box.complete_task(task_id)

    def exhaust_limit(self) -> None:
        self.box.limiter.daily_limit = self.box.limiter.daily_used

    def throttle(self) -> bool:
        self.box.limiter.ten_second_limit = 1
        return True

    def lag_search(self, seconds: float) -> None:
        self.box.index_lag = seconds

    def server_calls(self) -> int:
        return int(self.box.counters()["total_calls"])


class SalesforceCrm(Crm):
    kind = "salesforce"
    attempt_signals = frozenset({"call"})
    status_signal = "status"

    def __init__(self, box: SalesforceSandbox, sobject: str = "Lead") -> None:
        self.box = box
        self.sobject = sobject
        box.seed_demo()
        self.fields = ({"insurance": "Insurance_Type__c", "state": "State"} if sobject == "Lead"
                       else {"insurance": "Insurance_Type__c", "state": "MailingState"})
        self.placeholder = box.user_id("intake")
        # a queue cannot own a Contact: unassigned Contacts belong to the placeholder user
        self.unowned = box.admissions_inbox_id if sobject == "Lead" else self.placeholder
        self.people = [box.user_id(h) for h in ("maria", "li", "james")]
        self.inactive = box.user_id("jordan")

    def settings(self, **overrides: Any) -> SalesforceConfig:
        values: dict[str, Any] = {
            "instance_url": self.box.instance_url, "ca_bundle": self.box.ca_file,
            "token_env": "CONTRACT_TOKEN", "object": self.sobject,
            "placeholder_owners": (self.placeholder,), **overrides}
        return SalesforceConfig(**values)

    def connector(self, token: str | None = None, **options: Any) -> Connector:
        overrides = options.pop("settings", {})
        environ = options.pop("environ", None) or {"CONTRACT_TOKEN": token or self.box.token}
        return create_salesforce(self.settings(**overrides), self.fields, environ=environ,
                                 **options)

    def seed(self, n: int, *, owned: float = 0.0, rng_seed: int = 1,
             between: tuple[datetime, datetime] | None = None) -> list[str]:
        seeder = self.box.seed_leads if self.sobject == "Lead" else self.box.seed_contacts
        ids: list[str] = seeder(n, owned_fraction=owned, created_between=between or window(),
                                rng_seed=rng_seed)
        return ids

    def create_now(self) -> str:
        if self.sobject == "Lead":
            return str(self.box.create_lead())
        return str(self.box.create_record("Contact", {"LastName": "Sample",
                                                      "OwnerId": self.placeholder}))

    def owner_now(self, record_id: str) -> str | None:
        return self.box.get(record_id).get("OwnerId") or None

    def set_owner_by_hand(self, record_id: str, owner_id: str) -> None:
        self.box.set_owner(record_id, owner_id)

    def task_owners(self, record_id: str) -> list[str]:
        return [str(t["OwnerId"]) for t in self.box.tasks(record_id)]

    def log_call(self, record_id: str, owner_id: str) -> None:
        self.box.log_call(record_id, by=owner_id)

    def move_status(self, record_id: str) -> None:
        if self.sobject != "Lead":
            raise NotImplementedError("a Contact has no status")
        self.box.set_lead_status(record_id, "Working - Contacted")

    def complete_task(self, task_id: str) -> None:
        self.box.complete_task(task_id)

    def exhaust_limit(self) -> None:
        self.box.daily_limit = self.box.api_calls

    def server_calls(self) -> int:
        return int(self.box.api_calls)


__all__ = ["Crm", "HubSpotCrm", "SalesforceCrm", "window"]
