"""The emulated portal's state: owners, objects, associations and HubSpot's side effects."""

from __future__ import annotations

import json
import sys
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .index import SearchIndex
from .model import (
    ASSOC_TYPE_IDS,
    DATETIME_PROPS,
    ENUM_OPTIONS,
    OBJECT_TYPE_IDS,
    PROPERTIES,
    READ_ONLY,
    Record,
    intern_props,
    iso,
    now_ms,
    parse_time,
)
from .model import object_type as norm_type
from .search import SearchPlan, value_of

__all__ = ["Owner", "PortalStore", "PropertyError"]

CONTACT_ATTEMPT_TYPES = frozenset({"calls", "emails"})
DEFAULT_PROPS: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email", "createdate", "lastmodifieddate",
                 "hs_object_id"),
}
_ENGAGEMENT_DEFAULT = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")


class PropertyError(ValueError):
    """Property values HubSpot would reject (400 VALIDATION_ERROR, whole request)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "Property values were not valid: " + json.dumps(self.problems)


@dataclass
class Owner:
    """One HubSpot owner (a user, or a QUEUE-type placeholder)."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    type: str = "PERSON"
    teams: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = field(default_factory=now_ms)
    availability: str = "available"  # the user's hs_availability_status (Users API)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "email": self.email, "firstName": self.first_name,
            "lastName": self.last_name, "userId": self.user_id,
            "userIdIncludingInactive": self.user_id, "type": self.type, "teams": self.teams,
            "archived": self.archived, "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.updated_ms),
        }


class _TypeStore:
    """Records of one object type plus the (createdate, id) index search bisects."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.created_keys: list[int] = []
        self.created_recs: list[Record] = []

    def add(self, rec: Record) -> None:
        self.records[rec.id] = rec
        keys, recs = self.created_keys, self.created_recs
        # Keep (createdate, id) order: among equal createdates, ids ascend.
        idx = bisect_right(keys, rec.created_ms)
        while idx > 0 and keys[idx - 1] == rec.created_ms and recs[idx - 1].num > rec.num:
            idx -= 1
        keys.insert(idx, rec.created_ms)
        recs.insert(idx, rec)

    def add_many(self, recs: Iterable[Record]) -> None:
        for rec in recs:
            self.records[rec.id] = rec
        ordered = sorted(self.records.values(), key=lambda r: (r.created_ms, r.num))
        self.created_keys = [r.created_ms for r in ordered]
        self.created_recs = ordered


class PortalStore:
    """Thread-safe state of one emulated portal; every public method takes the lock."""

    def __init__(self, index_lag: float | Mapping[str, float] = 0.0,
                 clock: Callable[[], int] = now_ms) -> None:
        self.lock = threading.RLock()
        self.index = SearchIndex(index_lag)
        self.clock = clock
        self.owners: dict[str, Owner] = {}
        self.types: dict[str, _TypeStore] = {t: _TypeStore() for t in OBJECT_TYPE_IDS}
        self.extra_props: dict[str, set[str]] = {t: set() for t in OBJECT_TYPE_IDS}
        self.enum_options: dict[str, set[str]] = {k: set(v) for k, v in ENUM_OPTIONS.items()}
        # (type, id) -> {(other type, other id): {association type ids}}
        self.assoc: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self._next_id = 10_001  # numeric ids, like HubSpot's, shared across object types
        # Change listeners (the webhook emitter): (kind, object type, id, changes, source).
        self.observers: list[Callable[[str, str, str, dict[str, str], str], None]] = []
        self._source = threading.local()

    # -- change notification -------------------------------------------------------------------
    @contextmanager
    def change_source(self, source: str) -> Iterator[None]:
        """Tag changes made inside the block (INTEGRATION for API calls, CRM_UI otherwise)."""
        previous = getattr(self._source, "value", "CRM_UI")
        self._source.value = source
        try:
            yield
        finally:
            self._source.value = previous

    def _notify(self, kind: str, object_type: str, record_id: str,
                changes: dict[str, str]) -> None:
        source = getattr(self._source, "value", "CRM_UI")
        for observer in self.observers:
            observer(kind, object_type, record_id, dict(changes), source)

    # -- owners ------------------------------------------------------------------------------
    def add_owner(self, owner: Owner) -> Owner:
        with self.lock:
            self.owners[owner.id] = owner
            return owner

    def active_owner(self, owner_id: str) -> bool:
        o = self.owners.get(owner_id)
        return o is not None and not o.archived

    # -- properties ----------------------------------------------------------------------------
    def define_property(self, object_type: str, name: str, options: Iterable[str] = ()) -> None:
        """Add a portal-defined (custom) property, optionally an enumeration's options."""
        with self.lock:
            self.extra_props[object_type].add(sys.intern(name))
            if options:
                self.enum_options.setdefault(name, set()).update(options)

    def known(self, object_type: str, name: str) -> bool:
        return name in PROPERTIES[object_type] or name in self.extra_props[object_type]

    def check_props(self, object_type: str, props: dict[str, Any], *,
                    allow_read_only: bool = False) -> dict[str, str]:
        """Validate and normalise written values (dates -> ISO); raises PropertyError."""
        problems: list[dict[str, Any]] = []
        out: dict[str, str] = {}
        for name, raw in props.items():
            value = "" if raw is None else str(raw)

            def bad(error: str, message: str, name: str = name) -> None:
                problems.append({"isValid": False, "message": message, "error": error,
                                 "name": name, "localizedErrorMessage": message})
            if not self.known(object_type, name):
                bad("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                continue
            if name in READ_ONLY and not allow_read_only:
                bad("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot '
                                       "be set.")
                continue
            if value and name in DATETIME_PROPS:
                try:
                    value = iso(parse_time(value))
                except ValueError:
                    bad("INVALID_DATE", f"{name} was not a valid date")
                    continue
            if value and name in self.enum_options and value not in self.enum_options[name]:
                bad("INVALID_OPTION", f"{name} was not one of the allowed options")
                continue
            if value and name == "hubspot_owner_id" and not self.active_owner(value):
                bad("INVALID_OWNER_ID", f"{value} is not a valid owner id")
                continue
            out[sys.intern(name)] = value
        if problems:
            raise PropertyError(problems)
        return out

    # -- records ---------------------------------------------------------------------------------
    def _new_id(self) -> int:
        n = self._next_id
        self._next_id += 1
        return n

    def _apply(self, object_type: str, rec: Record, props: dict[str, str], at: int,
               *, notify: bool = True) -> None:
        old_owner = rec.props.get("hubspot_owner_id", "")
        changed = {k: v for k, v in props.items() if rec.props.get(k, "") != v}
        if "createdate" in props and object_type == "contacts" and props["createdate"]:
            self._move_created(object_type, rec, parse_time(props.pop("createdate")))
        props.pop("createdate", None)
        rec.props.update(props)
        for k in [k for k, v in props.items() if v == ""]:
            del rec.props[k]  # "" clears a property, as in HubSpot
        new_owner = rec.props.get("hubspot_owner_id", "")
        if new_owner != old_owner:
            if new_owner:
                rec.props["hubspot_owner_assigneddate"] = iso(at)
            else:
                rec.props.pop("hubspot_owner_assigneddate", None)
        if object_type == "tasks" and props.get("hs_task_status") == "COMPLETED":
            rec.props.setdefault("hs_task_completion_date", iso(at))
        rec.updated_ms = at
        if notify and changed:
            self._notify("propertyChange", object_type, rec.id, changed)

    def _move_created(self, object_type: str, rec: Record, created: int) -> None:
        ts = self.types[object_type]
        if rec.id in ts.records and rec.created_ms != created:
            idx = ts.created_recs.index(rec)
            del ts.created_recs[idx]
            del ts.created_keys[idx]
            rec.created_ms = created
            ts.records.pop(rec.id)
            ts.add(rec)
        rec.created_ms = created

    def create(self, object_type: str, props: dict[str, str], *, created_ms: int | None = None,
               associations: Iterable[tuple[str, str, int]] = ()) -> Record:
        """Create a record from already-checked props; associations = (to type, id, type id)."""
        with self.lock:
            now = self.clock()
            created = created_ms if created_ms is not None else now
            if object_type == "contacts" and props.get("createdate"):
                created = parse_time(props["createdate"])
            rec = Record(self._new_id(), {}, created, now)
            self.index.created(object_type, rec)
            if object_type == "tasks":
                rec.props["hs_task_status"] = "NOT_STARTED"
            self._apply(object_type, rec, dict(props), now, notify=False)
            rec.created_ms = created
            self.types[object_type].add(rec)
            self._notify("creation", object_type, rec.id, {})
            for to_type, to_id, type_id in associations:
                self.associate(object_type, rec.id, to_type, to_id, type_id)
            return rec

    def add_many(self, object_type: str, records: list[tuple[dict[str, str], int]]) -> list[str]:
        """Bulk insert of trusted (seeded) records: (props, created_ms) pairs."""
        with self.lock:
            recs = []
            for props, created in records:
                recs.append(Record(self._new_id(), intern_props(props), created, created))
            self.types[object_type].add_many(recs)
            return [r.id for r in recs]

    def get(self, object_type: str, record_id: str) -> Record | None:
        rec = self.types[object_type].records.get(record_id)
        return rec if rec is not None and not rec.archived else None

    def update(self, object_type: str, record_id: str, props: dict[str, str]) -> Record | None:
        with self.lock:
            rec = self.get(object_type, record_id)
            if rec is None:
                return None
            self.index.changing(object_type, rec)
            self._apply(object_type, rec, dict(props), self.clock())
            return rec

    def archive(self, object_type: str, record_id: str) -> bool:
        with self.lock:
            rec = self.get(object_type, record_id)
            if rec is None:
                return False
            rec.archived = True
            return True

    def search(self, object_type: str, plan: SearchPlan) -> tuple[int, list[Record]]:
        with self.lock:
            ts = self.types[object_type]
            return plan.run(ts.created_keys, ts.created_recs, self.index.clock())

    def indexed_assoc_ids(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        """`assoc_ids` as search sees them: links younger than the index lag left out."""
        now = self.index.clock()
        return {oid for oid in self.assoc_ids(from_type, from_id, to_type)
                if self.index.link_visible((from_type, from_id, to_type, oid), now)}

    # -- associations ------------------------------------------------------------------------
    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str,
                  type_id: int | None = None) -> bool:
        """Link two records both ways; False if either does not exist."""
        with self.lock:
            if self.get(from_type, from_id) is None or self.get(to_type, to_id) is None:
                return False
            fwd = type_id if type_id is not None else ASSOC_TYPE_IDS.get((from_type, to_type), 1)
            back = ASSOC_TYPE_IDS.get((to_type, from_type), fwd)
            a = self.assoc.setdefault((from_type, from_id), {})
            new = (to_type, to_id) not in a
            a.setdefault((to_type, to_id), set()).add(fwd)
            self.assoc.setdefault((to_type, to_id), {}).setdefault((from_type, from_id),
                                                                   set()).add(back)
            if new:
                self.index.linked([(from_type, from_id, to_type, to_id),
                                   (to_type, to_id, from_type, from_id)])
                self._contact_attempt(from_type, from_id, to_type, to_id)
                self._contact_attempt(to_type, to_id, from_type, from_id)
            return True

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        with self.lock:
            self.assoc.get((from_type, from_id), {}).pop((to_type, to_id), None)
            self.assoc.get((to_type, to_id), {}).pop((from_type, from_id), None)
            self.index.unlinked([(from_type, from_id, to_type, to_id),
                                 (to_type, to_id, from_type, from_id)])

    def associated(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        """{other id: association type ids} of one record towards one object type."""
        with self.lock:
            links = self.assoc.get((from_type, from_id), {})
            return {oid: set(t) for (otype, oid), t in links.items() if otype == to_type}

    def assoc_ids(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        links = self.assoc.get((from_type, from_id), {})
        return {oid for (otype, oid) in links if otype == to_type}

    def _contact_attempt(self, eng_type: str, eng_id: str, to_type: str, contact_id: str) -> None:
        """A call or email logged on a contact updates its 'last contacted' properties."""
        if eng_type not in CONTACT_ATTEMPT_TYPES or to_type != "contacts":
            return
        eng = self.get(eng_type, eng_id)
        contact = self.get("contacts", contact_id)
        if eng is None or contact is None:
            return
        self.index.changing("contacts", contact)
        now = self.clock()
        at = parse_time(eng.props["hs_timestamp"]) if eng.props.get("hs_timestamp") else now
        last = contact.props.get("notes_last_contacted")
        if not last or parse_time(last) < at:
            contact.props["notes_last_contacted"] = iso(at)
        count = int(contact.props.get("num_contacted_notes") or 0) + 1
        contact.props["num_contacted_notes"] = str(count)
        contact.props["hs_last_sales_activity_timestamp"] = iso(now)
        contact.props.setdefault("hs_first_outreach_date", iso(at))
        contact.updated_ms = now

    # -- rendering ---------------------------------------------------------------------------
    def render(self, object_type: str, rec: Record, properties: Iterable[str] | None = None,
               associations: Iterable[str] = ()) -> dict[str, Any]:
        """The SimplePublicObject JSON of one record."""
        if properties:
            names = list(dict.fromkeys([*properties, *self._always(object_type)]))
        else:
            names = list(DEFAULT_PROPS.get(object_type, ()))
            if object_type != "contacts":
                names = [*_ENGAGEMENT_DEFAULT, *rec.props]
        out: dict[str, Any] = {
            "id": rec.id,
            "properties": {n: value_of(rec, n) for n in names},
            "createdAt": iso(rec.created_ms),
            "updatedAt": iso(rec.updated_ms),
            "archived": rec.archived,
        }
        assoc_out = {}
        for other in associations:
            ot = norm_type(other)
            if ot is None:
                continue
            links = self.associated(object_type, rec.id, ot)
            if links:
                assoc_out[ot] = {"results": [
                    {"id": oid, "type": _assoc_label(object_type, ot)} for oid in sorted(links)
                ]}
        if assoc_out:
            out["associations"] = assoc_out
        return out

    @staticmethod
    def _always(object_type: str) -> tuple[str, ...]:
        if object_type == "contacts":
            return ("createdate", "lastmodifieddate", "hs_object_id")
        return _ENGAGEMENT_DEFAULT


def _assoc_label(from_type: str, to_type: str) -> str:
    return f"{from_type.rstrip('s')}_to_{to_type.rstrip('s')}"
