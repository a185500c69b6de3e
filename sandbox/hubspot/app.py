"""HTTP surface of the HubSpot emulator: routing, auth, limits, validation, CRM v3 objects."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox._server import Request, Response

from . import associations, owners, users
from .limits import RateLimiter
from .model import iso, now_ms
from .schemas import SpecValidator
from .search import SearchError, compile_search
from .store import PortalStore, PropertyError

__all__ = ["HubSpotApp", "RouteFault", "error", "is_write"]

BATCH_LIMIT = 100
OBJECT_TYPES = ("contacts", "tasks", "calls", "emails", "notes")
# The calls document stands in for emails and notes: their v3 object schemas are identical.
SPEC_DOC = {"contacts": "crm-contacts-v3", "tasks": "crm-tasks-v3", "calls": "crm-calls-v3",
            "emails": "crm-calls-v3", "notes": "crm-calls-v3"}
_T = "(?P<type>contacts|tasks|calls|emails|notes)"
Handler = Callable[[Request, dict[str, str]], Response]


def cid() -> str:
    return str(uuid.uuid4())


def error(status: int, message: str, category: str, **extra: Any) -> Response:
    """HubSpot's error JSON shape."""
    body = {"status": "error", "message": message, "correlationId": cid(), "category": category}
    body.update(extra)
    return Response(status, body)


def is_write(req: Request) -> bool:
    """Writes for fault injection: POST/PUT/PATCH/DELETE except search and batch reads."""
    if req.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    return not (req.path.endswith("/search") or req.path.endswith("/batch/read"))


def _list_param(req: Request, name: str) -> list[str]:
    """Query arrays arrive exploded (?p=a&p=b) or comma-separated (?p=a,b)."""
    return [p for raw in req.query.get(name, []) for p in raw.split(",") if p]


@dataclass(frozen=True)
class RouteFault:
    """A slow or failing endpoint, set per request line ("POST /crm/v3/objects/tasks/batch/
    create"): `before` seconds pass before the request is handled (in flight: not applied
    or read yet), `after` seconds after it was handled (applied or read, answered late);
    `status` answers that error instead of handling the request (nothing applied)."""

    before: float = 0.0
    after: float = 0.0
    status: int | None = None


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class HubSpotApp:
    """``Request -> Response`` callable served by :class:`sandbox._server.TLSServer`."""

    def __init__(self, store: PortalStore, limiter: RateLimiter, token: str,
                 validator: SpecValidator | None = None) -> None:
        self.store = store
        self.limiter = limiter
        self.token = token
        self.validator = validator or SpecValidator()
        self.calls: Counter[str] = Counter()  # "METHOD route" -> admitted calls
        self.rate_limited: Counter[str] = Counter()  # policy -> 429s
        self.unauthorized = 0
        self.route_faults: dict[str, RouteFault] = {}  # "METHOD /path" -> fault
        self._lock = threading.Lock()
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        r = self._route
        r("POST", rf"/crm/v3/objects/{_T}/search", self.search)
        r("POST", rf"/crm/v3/objects/{_T}/batch/read", self.batch_read)
        r("POST", rf"/crm/v3/objects/{_T}/batch/update", self.batch_update)
        r("POST", rf"/crm/v3/objects/{_T}/batch/create", self.batch_create)
        r("POST", rf"/crm/v3/objects/{_T}/batch/archive", self.batch_archive)
        r("GET", rf"/crm/v3/objects/{_T}", self.list_objects)
        r("POST", rf"/crm/v3/objects/{_T}", self.create)
        r("GET", rf"/crm/v3/objects/{_T}/(?P<id>[^/]+)", self.get)
        r("PATCH", rf"/crm/v3/objects/{_T}/(?P<id>[^/]+)", self.update)
        r("DELETE", rf"/crm/v3/objects/{_T}/(?P<id>[^/]+)", self.archive)
        owners.register(self)
        associations.register(self)
        users.register(self)

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + "$"), pattern, handler))

    # -- dispatch --------------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        auth = req.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            with self._lock:
                self.unauthorized += 1
            return error(401, "Authentication credentials not found. This API supports OAuth "
                              "2.0 authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                         "INVALID_AUTHENTICATION")
        for method, rx, name, handler in self.routes:
            m = rx.match(req.path)
            if m is None or method != req.method:
                continue
            decision = self.limiter.admit(search=req.path.endswith("/search"))
            groups = m.groupdict()
            path = _pretty(name)
            if "type" in groups:
                path = path.replace("{type}", groups["type"])
            key = f"{method} {path}"
            if not decision.allowed:
                with self._lock:
                    self.rate_limited[decision.policy] += 1
                return Response(429, decision.body(cid()), headers=decision.headers)
            with self._lock:
                self.calls[key] += 1
            fault = self.route_faults.get(f"{req.method} {req.path}", RouteFault())
            time.sleep(fault.before)
            if fault.status is not None:
                return error(fault.status, "injected fault", "INTERNAL_ERROR")
            try:
                with self.store.change_source("INTEGRATION"):
                    resp = handler(req, groups)
            except _BadRequest as bad:
                resp = bad.response
            except PropertyError as exc:
                resp = error(400, exc.message, "VALIDATION_ERROR")
            except SearchError as exc:
                resp = error(400, str(exc), "VALIDATION_ERROR")
            time.sleep(fault.after)
            resp.headers.update(decision.headers)
            return resp
        return error(404, f"No route for {req.method} {req.path}", "OBJECT_NOT_FOUND")

    # -- helpers -----------------------------------------------------------------------------------
    def body(self, req: Request, doc: str, schema: str) -> Any:
        """Parsed JSON body, validated against the OpenAPI schema (400 otherwise)."""
        try:
            data = req.json()
        except ValueError:
            raise _BadRequest(error(400, "Invalid input JSON on line 1: request body is not "
                                         "valid JSON", "VALIDATION_ERROR")) from None
        problems = self.validator.errors(doc, schema, data)
        if problems:
            raise _BadRequest(error(400, "Invalid input JSON: " + "; ".join(problems[:5]),
                                    "VALIDATION_ERROR",
                                    errors=[{"message": p} for p in problems[:20]]))
        return data

    def _inline_assocs(self, from_type: str, raw: list[dict[str, Any]]
                       ) -> list[tuple[str, str, int]]:
        """Resolve create-time associations; 400 on a wrong type id or a missing target."""
        out = []
        for a in raw or []:
            to_id = str(a["to"]["id"])
            for spec in a["types"]:
                type_id = int(spec["associationTypeId"])
                to_type = associations.target_type(from_type, type_id,
                                                   spec["associationCategory"])
                if to_type is None:
                    raise _BadRequest(error(
                        400, f"{type_id} is not a valid association type id for "
                             f"{from_type}", "VALIDATION_ERROR", subCategory="INVALID_ASSOCIATION"))
                if self.store.get(to_type, to_id) is None:
                    raise _BadRequest(error(
                        400, f"One or more associations are invalid: {to_type} {to_id} does "
                             "not exist", "VALIDATION_ERROR", subCategory="INVALID_ASSOCIATION"))
                out.append((to_type, to_id, type_id))
        return out

    def _batch_size(self, inputs: list[Any]) -> None:
        if len(inputs) > BATCH_LIMIT:
            raise _BadRequest(error(400, f"Batch input limit is {BATCH_LIMIT}, got "
                                         f"{len(inputs)}", "VALIDATION_ERROR"))

    @staticmethod
    def _batch(results: list[dict[str, Any]], missing: list[str], object_type: str,
               started: int, ok_status: int = 200) -> Response:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                "startedAt": iso(started), "completedAt": iso(now_ms())}
        if not missing:
            return Response(ok_status, body)
        kind = object_type.rstrip("s").upper()
        body["numErrors"] = 1
        body["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {kind} objects, they may be deleted or not exist. "
                       "Check that ids are valid.",
            "context": {"ids": missing}, "errors": [], "links": {},
        }]
        return Response(207, body)

    def _not_found(self, object_type: str, record_id: str) -> Response:
        return error(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                     context={"id": [record_id]})

    # -- objects -----------------------------------------------------------------------------------
    def search(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        data = self.body(req, SPEC_DOC[t], "PublicObjectSearchRequest")
        plan = compile_search(data, t, self.store.indexed_assoc_ids)
        total, page = self.store.search(t, plan)
        out: dict[str, Any] = {
            "total": total,
            "results": [self.store.render(t, r, plan.properties) for r in page],
        }
        nxt = plan.after + plan.limit
        if nxt < total and plan.limit > 0:
            out["paging"] = {"next": {"after": str(nxt)}}
        return Response(200, out)

    def list_objects(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        limit = min(int(req.q("limit") or 10), 100)
        after = int(req.q("after") or 0)
        with self.store.lock:
            recs = sorted((r for r in self.store.types[t].records.values() if not r.archived),
                          key=lambda r: r.num)
        page = [r for r in recs if r.num > after][:limit]
        out: dict[str, Any] = {"results": [
            self.store.render(t, r, _list_param(req, "properties"),
                              _list_param(req, "associations")) for r in page]}
        if len(page) == limit and page and page[-1].num < recs[-1].num:
            out["paging"] = {"next": {"after": str(page[-1].num)}}
        return Response(200, out)

    def create(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        data = self.body(req, SPEC_DOC[t], "SimplePublicObjectInputForCreate")
        with self.store.lock:
            props = self.store.check_props(t, data["properties"])
            self._require(t, props)
            existing = self._same_email(t, props.get("email"))
            if existing is not None:  # HubSpot: email is unique among contacts
                return error(409, f"Contact already exists. Existing ID: {existing}",
                             "CONFLICT")
            links = self._inline_assocs(t, data.get("associations") or [])
            rec = self.store.create(t, props, associations=links)
            return Response(201, self.store.render(t, rec))

    def _same_email(self, t: str, email: str | None) -> str | None:
        """The contact holding this email (case-insensitive), as HubSpot's unique `email`
        property and `idProperty=email` reads find it: at once, not through search."""
        return self._same_value(t, "email", email)

    def _same_value(self, t: str, prop: str, value: str | None) -> str | None:
        """The contact holding this value of a unique property (`email` case-insensitive)."""
        if t != "contacts" or not value:
            return None
        wanted = value.strip().lower() if prop == "email" else value
        for rec in list(self.store.types[t].records.values()):
            held = rec.props.get(prop, "")
            if not rec.archived and (held.strip().lower() if prop == "email" else held
                                     ) == wanted:
                return rec.id
        return None

    @staticmethod
    def _require(t: str, props: dict[str, str]) -> None:
        if t != "contacts" and not props.get("hs_timestamp"):
            raise PropertyError([{"isValid": False, "message": "hs_timestamp is required",
                                  "error": "REQUIRED_PROPERTY", "name": "hs_timestamp"}])

    def get(self, req: Request, p: dict[str, str]) -> Response:
        t, rid = p["type"], p["id"]
        rec = self.store.get(t, rid)
        if rec is None:
            return self._not_found(t, rid)
        return Response(200, self.store.render(t, rec, _list_param(req, "properties"),
                                               _list_param(req, "associations")))

    def update(self, req: Request, p: dict[str, str]) -> Response:
        t, rid = p["type"], p["id"]
        data = self.body(req, SPEC_DOC[t], "SimplePublicObjectInput")
        with self.store.lock:
            if self.store.get(t, rid) is None:
                return self._not_found(t, rid)
            props = self.store.check_props(t, data["properties"])
            rec = self.store.update(t, rid, props)
            assert rec is not None
            return Response(200, self.store.render(t, rec, list(props)))

    def archive(self, req: Request, p: dict[str, str]) -> Response:
        self.store.archive(p["type"], p["id"])
        return Response(204)

    def batch_read(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        started = now_ms()
        data = self.body(req, SPEC_DOC[t], "BatchReadInputSimplePublicObjectId")
        self._batch_size(data["inputs"])
        results, missing = [], []
        # idProperty: `email`, or a unique-value property of the portal (reads records,
        # not the search index)
        id_property = data.get("idProperty") if t == "contacts" else None
        for item in data["inputs"]:
            found = (self._same_value(t, id_property, str(item["id"])) if id_property
                     else str(item["id"]))
            rec = self.store.get(t, found) if found is not None else None
            if rec is None:
                missing.append(str(item["id"]))
            else:
                results.append(self.store.render(t, rec, data.get("properties")))
        return self._batch(results, missing, t, started)

    def batch_update(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        started = now_ms()
        data = self.body(req, SPEC_DOC[t], "BatchInputSimplePublicObjectBatchInput")
        inputs = data["inputs"]
        self._batch_size(inputs)
        ids = [str(i["id"]) for i in inputs]
        if len(set(ids)) != len(ids):
            return error(400, "Duplicate IDs found in batch input", "VALIDATION_ERROR")
        with self.store.lock:
            # Invalid values fail the whole batch (as HubSpot does); missing ids only their row.
            checked = [(str(i["id"]), self.store.check_props(t, i["properties"]))
                       for i in inputs]
            results, missing = [], []
            for rid, props in checked:
                rec = self.store.update(t, rid, props)
                if rec is None:
                    missing.append(rid)
                else:
                    results.append(self.store.render(t, rec, list(props)))
        return self._batch(results, missing, t, started)

    def batch_create(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        started = now_ms()
        data = self.body(req, SPEC_DOC[t], "BatchInputSimplePublicObjectBatchInputForCreate")
        self._batch_size(data["inputs"])
        with self.store.lock:
            prepared = []
            for item in data["inputs"]:
                props = self.store.check_props(t, item["properties"])
                self._require(t, props)
                prepared.append((props, self._inline_assocs(t, item.get("associations") or [])))
            results = [self.store.render(t, self.store.create(t, props, associations=links))
                       for props, links in prepared]
        return self._batch(results, [], t, started, ok_status=201)

    def batch_archive(self, req: Request, p: dict[str, str]) -> Response:
        t = p["type"]
        data = self.body(req, SPEC_DOC[t], "BatchInputSimplePublicObjectId")
        self._batch_size(data["inputs"])
        for item in data["inputs"]:
            self.store.archive(t, str(item["id"]))
        return Response(204)


def _pretty(pattern: str) -> str:
    """Route key for counters: '/crm/v3/objects/{type}/search' style."""
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    return text.replace("/?", "")

