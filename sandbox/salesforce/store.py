"""The emulated org's records: validation, audit fields, side effects, SOQL execution.

Records are plain dicts keyed by canonical field names, with Salesforce wire values (datetimes
as ``2026-11-28T04:58:00.000+0000``, dates as ``2026-11-28``). Errors are raised as
:class:`~sandbox.salesforce.schema.ApiError`; messages never echo field values (PHI).
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce import soql
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.schema import (
    KEY_PREFIXES,
    PREFIX_TO_SOBJECT,
    ApiError,
    Field,
    SObjectSchema,
    build_schemas,
    format_datetime,
    make_id,
    to18,
)

__all__ = ["LEAD_STATUSES", "Store"]

LEAD_STATUSES = [  # (MasterLabel, IsDefault, IsConverted): a fresh org's values
    ("Open - Not Contacted", True, False),
    ("Working - Contacted", False, False),
    ("Closed - Converted", False, True),
    ("Closed - Not Converted", False, False),
]
_ID_RE = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_STRINGY = {"id", "reference", "string", "textarea", "email", "phone", "picklist"}


def _not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


class Store:
    """All records of one emulated org, guarded by one re-entrant lock."""

    def __init__(self, clock: Callable[[], datetime], api_version: str = "59.0") -> None:
        self.clock = clock
        self.api_version = api_version
        self.schemas: dict[str, SObjectSchema] = build_schemas()
        self.records: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in self.schemas}
        self.lock = threading.RLock()
        self._seq = itertools.count(62**5 * 7 + 1)
        self._journal: dict[tuple[str, str], dict[str, Any] | None] | None = None
        self._held_events: list[tuple[str, str, str]] = []
        # Called as listener(sobject, record_id, "create" | "update") after a committed save,
        # with the store lock held: keep listeners quick (queue the work).
        self.listeners: list[Callable[[str, str, str], None]] = []
        self.assignment_rule_queue_id: str | None = None  # the trap; None = no active rule
        self.organization_id = self.new_id("Organization")
        self.integration_user_id = self.new_id("User")
        self._bootstrap()

    # -- ids and time --------------------------------------------------------------------------
    def new_id(self, sobject: str) -> str:
        return make_id(KEY_PREFIXES[sobject], next(self._seq))

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def sobject_of(self, record_id: str) -> str | None:
        return PREFIX_TO_SOBJECT.get(record_id[:3])

    def schema(self, name: str) -> SObjectSchema:
        s = self.schemas.get(name)
        if s is None:
            low = name.lower()
            s = next((v for k, v in self.schemas.items() if k.lower() == low), None)
        if s is None:
            raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {name}")
        return s

    def _bootstrap(self) -> None:
        stamp = format_datetime(self.now())
        audit = {"IsDeleted": False, "CreatedDate": stamp, "LastModifiedDate": stamp,
                 "SystemModstamp": stamp, "CreatedById": self.integration_user_id,
                 "LastModifiedById": self.integration_user_id}
        self.records["Organization"][self.organization_id] = {
            "Id": self.organization_id, "Name": "Sunrise Recovery (sandbox)",
            "OrganizationType": "Developer Edition", "IsSandbox": False,
            "InstanceName": "SANDBOX1", "TimeZoneSidKey": "America/Los_Angeles",
            "DefaultLocaleSidKey": "en_US", "LanguageLocaleKey": "en_US", **audit}
        self.records["User"][self.integration_user_id] = {
            "Id": self.integration_user_id, "Username": "integration@sunrise-recovery.example",
            "FirstName": "Integration", "LastName": "User", "Name": "Integration User",
            "Email": "integration@sunrise-recovery.example", "Alias": "integ", "IsActive": True,
            "Title": None, "Department": None, "Phone": None,
            "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
            "LanguageLocaleKey": "en_US", "EmailEncodingKey": "UTF-8", "ProfileId": None,
            "UserType": "Standard", "ManagerId": None, **audit}
        for order, (label, default, converted) in enumerate(LEAD_STATUSES, start=1):
            sid = self.new_id("LeadStatus")
            self.records["LeadStatus"][sid] = {
                "Id": sid, "MasterLabel": label, "ApiName": label, "SortOrder": order,
                "IsDefault": default, "IsConverted": converted, **audit}

    def default_lead_status(self) -> str:
        for rec in self.records["LeadStatus"].values():
            if rec["IsDefault"]:
                return str(rec["MasterLabel"])
        return LEAD_STATUSES[0][0]

    # -- transactions --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block: any exception restores every record touched inside."""
        with self.lock:
            if self._journal is not None:  # nested: the outer block decides
                yield
                return
            self._journal = {}
            self._held_events = []
            try:
                yield
            except BaseException:
                self._restore()
                self._held_events = []
                raise
            finally:
                self._journal = None
            events, self._held_events = self._held_events, []
            for event in events:
                self._emit(*event)

    def _emit(self, sobject: str, record_id: str, event: str) -> None:
        if self._journal is not None:  # only committed saves are announced
            self._held_events.append((sobject, record_id, event))
            return
        for listener in self.listeners:
            listener(sobject, record_id, event)

    def _restore(self) -> None:
        assert self._journal is not None
        for (sobject, rid), before in self._journal.items():
            if before is None:
                self.records[sobject].pop(rid, None)
            else:
                self.records[sobject][rid] = before

    def _touch(self, sobject: str, rid: str) -> None:
        if self._journal is not None and (sobject, rid) not in self._journal:
            current = self.records[sobject].get(rid)
            self._journal[(sobject, rid)] = copy.deepcopy(current)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        if not _ID_RE.fullmatch(record_id or ""):
            return None
        return self.records.get(sobject, {}).get(to18(record_id))

    def find(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        sobject = self.sobject_of(record_id or "")
        if sobject is None:
            return None
        rec = self.get(sobject, record_id)
        return (sobject, rec) if rec is not None else None

    def attributes(self, sobject: str, record_id: str) -> dict[str, str]:
        return {"type": sobject,
                "url": f"/services/data/v{self.api_version}/sobjects/{sobject}/{record_id}"}

    def full_record(self, sobject: str, record_id: str,
                    fields: list[str] | None = None) -> dict[str, Any]:
        """A record as ``GET /sobjects/{type}/{id}`` returns it."""
        schema = self.schema(sobject)
        rec = self.get(schema.name, record_id)
        if rec is None:
            raise _not_found()
        out: dict[str, Any] = {"attributes": self.attributes(schema.name, rec["Id"])}
        names = fields or list(schema.fields)
        for name in names:
            f = schema.lookup(name)
            if f is None:
                raise ApiError(400, "INVALID_FIELD",
                               f"No such column '{name}' on entity '{schema.name}'.")
            out[f.name] = rec.get(f.name)
        return out

    # -- writes --------------------------------------------------------------------------------
    def _check_value(self, schema: SObjectSchema, f: Field, value: Any) -> Any:
        """Validate and normalize one incoming value (messages never include the value)."""
        if value is None or (value == "" and f.type in _STRINGY):
            return None
        label = f"{schema.name}.{f.name}"
        if f.type == "boolean":
            if not isinstance(value, bool):
                raise ApiError(400, "JSON_PARSER_ERROR",
                               f"Cannot deserialize instance of boolean for {label}", [f.name])
            return value
        if f.type in ("int", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ApiError(400, "JSON_PARSER_ERROR",
                               f"Cannot deserialize instance of {f.type} for {label}", [f.name])
            return int(value) if f.type == "int" else float(value)
        if not isinstance(value, str):
            if isinstance(value, int | float) and f.type in ("string", "textarea", "phone"):
                return str(value)
            raise ApiError(400, "JSON_PARSER_ERROR",
                           f"Cannot deserialize instance of string for {label}", [f.name])
        if f.type == "date":
            try:
                return date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                raise ApiError(400, "JSON_PARSER_ERROR",
                               f"Cannot deserialize instance of date for {label}",
                               [f.name]) from None
        if f.type == "datetime":
            try:
                return format_datetime(soql.parse_datetime(value))
            except ValueError:
                raise ApiError(400, "JSON_PARSER_ERROR",
                               f"Cannot deserialize instance of datetime for {label}",
                               [f.name]) from None
        if f.type == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ApiError(400, "INVALID_EMAIL_ADDRESS", f"{f.name}: invalid email address",
                           [f.name])
        if f.type == "reference":
            return self._check_reference(schema, f, value)
        return value

    def _check_reference(self, schema: SObjectSchema, f: Field, value: str) -> str:
        if not _ID_RE.fullmatch(value):
            raise ApiError(400, "MALFORMED_ID",
                           f"{f.name}: id value of incorrect type", [f.name])
        value = to18(value)
        if not f.reference_to:
            return value
        target = self.find(value)
        if target is None or target[0] not in f.reference_to:
            if f.name == "OwnerId" and target is not None and target[0] == "Group":
                raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY",
                               f"invalid cross reference id: a queue cannot own a {schema.name}",
                               [f.name])
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                           [f.name])
        sobject, rec = target
        if f.name == "OwnerId" and sobject == "User" and not rec.get("IsActive", True):
            raise ApiError(400, "INACTIVE_OWNER_OR_USER",
                           f"operation performed with inactive user [{value}] as owner of "
                           f"{schema.name.lower()}", [f.name])
        if f.name == "OwnerId" and sobject == "Group" and rec.get("Type") != "Queue":
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                           [f.name])
        return value

    def _clean(self, schema: SObjectSchema, values: dict[str, Any], *, creating: bool,
               admin: bool) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            f = schema.lookup(key)
            if f is None:
                raise ApiError(400, "INVALID_FIELD",
                               f"No such column '{key}' on sobject of type {schema.name}")
            allowed = f.createable if creating else f.updateable
            if not allowed and not admin:
                raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                               f"Unable to create/update fields: {f.name}. Please check the "
                               "security settings of this field and verify that it is "
                               "read/write for your profile or permission set.", [f.name])
            if admin and f.type == "datetime" and isinstance(value, datetime):
                value = format_datetime(value)
            clean[f.name] = self._check_value(schema, f, value) if f.name != "Id" else value
        return clean

    def insert(self, sobject: str, values: dict[str, Any], *, actor: str | None = None,
               auto_assign: bool = False, admin: bool = False) -> str:
        """Create a record; returns its id. ``admin`` bypasses API-only restrictions."""
        with self.lock:
            schema = self.schema(sobject)
            if not schema.writable and not admin:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION",
                               f"entity type cannot be inserted: {schema.name}")
            clean = self._clean(schema, values, creating=True, admin=admin)
            actor = actor or self.integration_user_id
            stamp = format_datetime(self.now())
            rec: dict[str, Any] = {f.name: f.default for f in schema.fields.values()}
            rec.update({"IsDeleted": False, "CreatedDate": stamp, "LastModifiedDate": stamp,
                        "SystemModstamp": stamp, "CreatedById": actor,
                        "LastModifiedById": actor})
            if "OwnerId" in schema.fields:
                rec["OwnerId"] = actor
            if schema.name == "Lead":
                rec["Status"] = self.default_lead_status()
                rec["IsConverted"] = False
            rec.update({k: v for k, v in clean.items() if v is not None or k not in rec})
            missing = [f.name for f in schema.fields.values()
                       if f.required and rec.get(f.name) in (None, "")]
            if missing:
                raise ApiError(400, "REQUIRED_FIELD_MISSING",
                               f"Required fields are missing: [{', '.join(missing)}]", missing)
            rid = str(clean.get("Id") or self.new_id(schema.name))
            rec["Id"] = rid
            self._derive(schema.name, rec, None, auto_assign=auto_assign)
            self._touch(schema.name, rid)
            self.records[schema.name][rid] = rec
            self._side_effects(schema.name, rec)
            self._emit(schema.name, rid, "create")
            return rid

    def update(self, sobject: str, record_id: str, values: dict[str, Any], *,
               actor: str | None = None, auto_assign: bool = False,
               admin: bool = False) -> None:
        """Update a record (every save bumps LastModifiedDate and SystemModstamp)."""
        with self.lock:
            schema = self.schema(sobject)
            if not schema.writable and not admin:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION",
                               f"entity type cannot be updated: {schema.name}")
            current = self.get(schema.name, record_id)
            if current is None:
                raise _not_found()
            values = {k: v for k, v in values.items() if k.lower() != "id" or admin}
            clean = self._clean(schema, values, creating=False, admin=admin)
            missing = [k for k, v in clean.items()
                       if v is None and schema.fields[k].required]
            if missing:
                raise ApiError(400, "REQUIRED_FIELD_MISSING",
                               f"Required fields are missing: [{', '.join(missing)}]", missing)
            before = dict(current)
            rec = dict(current)
            rec.update(clean)
            stamp = format_datetime(self.now())
            if "LastModifiedDate" not in clean:
                rec["LastModifiedDate"] = stamp
            if "SystemModstamp" not in clean:
                rec["SystemModstamp"] = stamp
            rec["LastModifiedById"] = actor or self.integration_user_id
            self._derive(schema.name, rec, before, auto_assign=auto_assign)
            self._touch(schema.name, rec["Id"])
            self.records[schema.name][rec["Id"]] = rec
            self._side_effects(schema.name, rec)
            self._emit(schema.name, rec["Id"], "update")

    def delete(self, sobject: str, record_id: str) -> None:
        with self.lock:
            schema = self.schema(sobject)
            if not schema.writable:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION",
                               f"entity type cannot be deleted: {schema.name}")
            rec = self.get(schema.name, record_id)
            if rec is None:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
            self._touch(schema.name, rec["Id"])
            del self.records[schema.name][rec["Id"]]

    def _derive(self, sobject: str, rec: dict[str, Any], before: dict[str, Any] | None, *,
                auto_assign: bool) -> None:
        if "Name" in rec and sobject in ("Lead", "Contact", "User"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if sobject == "Lead" and auto_assign and self.assignment_rule_queue_id:
            # The org's active assignment rule runs after the save and overwrites the owner.
            rec["OwnerId"] = self.assignment_rule_queue_id
        if sobject == "Task":
            closed = rec.get("Status") == "Completed"
            rec["IsClosed"] = closed
            rec["IsHighPriority"] = rec.get("Priority") == "High"
            if not closed:
                rec["CompletedDateTime"] = None
            elif not (before and before.get("IsClosed")):
                rec["CompletedDateTime"] = format_datetime(self.now())

    def _side_effects(self, sobject: str, rec: dict[str, Any]) -> None:
        """A closed task moves its Lead/Contact's LastActivityDate (without a new modstamp)."""
        if sobject != "Task" or not rec.get("IsClosed") or not rec.get("WhoId"):
            return
        who = self.find(rec["WhoId"])
        if who is None:
            return
        day = rec.get("ActivityDate") or self.now().date().isoformat()
        target_type, target = who
        if (target.get("LastActivityDate") or "") < day:
            self._touch(target_type, target["Id"])
            target["LastActivityDate"] = day

    # -- SOQL ----------------------------------------------------------------------------------
    def query(self, text: str) -> tuple[soql.Query, list[dict[str, Any]]]:
        """Run SOQL; returns the parsed query and projected rows (``attributes`` first)."""
        return QueryEngine(self).run(text)
