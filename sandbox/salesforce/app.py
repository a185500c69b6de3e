"""HTTP routing of the emulated REST API (``/services/data/vXX.X/...``) onto the store."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from typing import Any

from sandbox._server import Request, Response
from sandbox.salesforce.composite import CompositeHandler, auto_assign, error_response
from sandbox.salesforce.oauth import TokenIssuer
from sandbox.salesforce.schema import ApiError, make_id
from sandbox.salesforce.store import Store

__all__ = ["SalesforceApp", "fault_response", "is_write"]

_VERSION_RE = re.compile(r"^/services/data/v(\d{2}\.\d)(/.*)?$")
MAX_CURSORS = 50


def fault_response(status: int) -> Response:
    """Injected 5xx answers, list-shaped like the platform's own errors."""
    code = "UNKNOWN_EXCEPTION" if status == 500 else "SERVER_UNAVAILABLE"
    return Response(status, [{"message": f"sandbox injected fault ({status})", "errorCode": code}])


def is_write(req: Request) -> bool:
    """Which requests change data (for ambiguous-write faults): a composite of GETs does not."""
    if req.method == "GET":
        return False
    if req.method == "POST" and req.path.rstrip("/").endswith("/composite"):
        try:
            subs = req.json().get("compositeRequest") or []
        except (ValueError, AttributeError):
            return True
        return any(str(s.get("method", "GET")).upper() != "GET" for s in subs)
    return True


def _not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


class SalesforceApp:
    """``Request -> Response`` for :class:`sandbox._server.TLSServer`."""

    def __init__(self, store: Store, *, token: str, daily_limit: int,
                 api_version: str = "59.0") -> None:
        self.store = store
        self.token = token
        self.daily_limit = daily_limit
        self.api_version = api_version
        self.api_calls = 0
        self.min_batch_size = 200  # tests may lower it to page small result sets
        self.counters: Counter[str] = Counter()
        self._cursors: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._cursor_seq = 0
        self._lock = threading.Lock()
        self.composite = CompositeHandler(self)
        self.oauth = TokenIssuer(store)

    # -- entry point -----------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        resp = self._handle(req)
        with self._lock:
            resp.headers.setdefault("Sforce-Limit-Info",
                                    f"api-usage={self.api_calls}/{self.daily_limit}")
        return resp

    def fault_response(self, status: int) -> Response:
        """Injected 5xx (no API call counted), still with ``Sforce-Limit-Info``."""
        resp = fault_response(status)
        with self._lock:
            resp.headers["Sforce-Limit-Info"] = f"api-usage={self.api_calls}/{self.daily_limit}"
        return resp

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def _handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == "/services/data":
            return Response(200, [{"label": "Winter '24", "url": "/services/data/v59.0",
                                   "version": "59.0"}])
        if path == "/services/oauth2/token":
            self._count("oauth_token")
            return self.oauth.handle(req)
        m = _VERSION_RE.match(path)
        if m is None:
            self._count("not_found")
            return error_response(_not_found())
        auth = req.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        value = value.strip()
        if scheme.lower() not in ("bearer", "oauth") or (
                value != self.token and not self.oauth.valid(value)):
            self._count("invalid_session")
            return error_response(ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid"))
        with self._lock:
            if self.api_calls >= self.daily_limit:
                self.counters["limit_exceeded"] += 1
                return error_response(ApiError(403, "REQUEST_LIMIT_EXCEEDED",
                                       "TotalRequests Limit exceeded."))
            self.api_calls += 1
            self.counters["api_calls"] += 1
        if float(m.group(1)) > float(self.api_version) or float(m.group(1)) < 20.0:
            return error_response(_not_found())
        try:
            return self.dispatch(req.method, m.group(2) or "/", req.query, req.headers,
                                 req.body, top_level=True)
        except ApiError as exc:
            return error_response(exc)

    # -- routing (also used by composite subrequests) --------------------------------------------
    def dispatch(self, method: str, rest: str, query: Mapping[str, list[str]],
                 headers: Mapping[str, str], body: bytes | Any, *,
                 top_level: bool = False) -> Response:
        parts = [p for p in rest.split("/") if p]
        if not parts:
            return Response(200, {"limits": f"/services/data/v{self.api_version}/limits",
                                  "query": f"/services/data/v{self.api_version}/query",
                                  "sobjects": f"/services/data/v{self.api_version}/sobjects",
                                  "composite": f"/services/data/v{self.api_version}/composite"})
        head = parts[0]
        if head == "limits" and len(parts) == 1:
            self._need(method, "GET")
            self._count("limits")
            return Response(200, self._limits())
        if head in ("query", "queryAll"):
            self._need(method, "GET")
            if len(parts) == 1:
                return self._query(query, headers)
            if len(parts) == 2:
                return self._query_more(parts[1])
        if head == "sobjects":
            return self._sobjects(method, parts[1:], query, headers, body)
        if head == "composite":
            if len(parts) == 1 and top_level:
                self._need(method, "POST")
                self._count("composite")
                return self.composite.composite(self._json(body), headers)
            if len(parts) >= 2 and parts[1] == "sobjects":
                self._count("composite_sobjects")
                return self.composite.collections(method, parts[2:], query, headers, body)
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _need(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, "METHOD_NOT_ALLOWED",
                           f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}")

    @staticmethod
    def _json(body: bytes | Any) -> Any:
        if not isinstance(body, bytes | bytearray):
            return body
        try:
            return json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "JSON_PARSER_ERROR", "Unexpected character in request body: "
                           "the body is not valid JSON") from None

    def _limits(self) -> dict[str, Any]:
        with self._lock:
            used = self.api_calls
        return {
            "DailyApiRequests": {"Max": self.daily_limit,
                                 "Remaining": max(self.daily_limit - used, 0)},
            "ConcurrentPerOrgLongTxn": {"Max": 25, "Remaining": 25},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        }

    # -- query ---------------------------------------------------------------------------------
    def _batch_size(self, headers: Mapping[str, str]) -> int:
        opts = headers.get("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", opts, re.IGNORECASE)
        size = int(m.group(1)) if m else 2000
        return max(self.min_batch_size, min(size, 2000))

    def _query(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> Response:
        text = (query.get("q") or [""])[0]
        if not text.strip():
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        self._count("query")
        parsed, rows = self.store.query(text)
        if parsed.count_only:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        return Response(200, self._page(rows, 0, self._batch_size(headers), None))

    def _page(self, rows: list[dict[str, Any]], start: int, size: int,
              locator: str | None) -> dict[str, Any]:
        end = start + size
        out: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows),
                               "records": rows[start:end]}
        if end < len(rows):
            with self._lock:
                if locator is None:
                    self._cursor_seq += 1
                    locator = make_id("01g", self._cursor_seq)
                self._cursors[locator] = (rows, size)
                self._cursors.move_to_end(locator)
                while len(self._cursors) > MAX_CURSORS:
                    self._cursors.popitem(last=False)
            out["nextRecordsUrl"] = f"/services/data/v{self.api_version}/query/{locator}-{end}"
        elif locator is not None:
            with self._lock:
                self._cursors.pop(locator, None)
        return out

    def _query_more(self, token: str) -> Response:
        self._count("query_more")
        locator, _, offset = token.partition("-")
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, size = cursor
        return Response(200, self._page(rows, int(offset), size, locator))

    # -- sobjects ------------------------------------------------------------------------------
    def _sobjects(self, method: str, parts: list[str], query: Mapping[str, list[str]],
                  headers: Mapping[str, str], body: bytes | Any) -> Response:
        store = self.store
        if not parts:
            self._need(method, "GET")
            return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                {"name": n, "keyPrefix": None, "createable": s.writable, "updateable": s.writable,
                 "queryable": True, "custom": False} for n, s in store.schemas.items()]})
        schema = store.schema(parts[0])
        if len(parts) == 1:
            if method == "POST":
                self._count("sobject_create")
                data = self._json(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
                rid = store.insert(schema.name, data, auto_assign=auto_assign(headers))
                return Response(201, {"id": rid, "success": True, "errors": []},
                                headers={"Location": store.attributes(schema.name, rid)["url"]})
            self._need(method, "GET", "POST")
            return Response(200, {"objectDescribe": {"name": schema.name}, "recentItems": []})
        if parts[1] == "describe" and len(parts) == 2:
            self._need(method, "GET")
            self._count("describe")
            return Response(200, {"name": schema.name, "fields": [
                {"name": f.name, "type": f.type, "createable": f.createable,
                 "updateable": f.updateable, "nillable": not f.required,
                 "referenceTo": list(f.reference_to), "relationshipName": f.relationship,
                 "filterable": f.filterable, "sortable": f.filterable,
                 "custom": f.name.endswith("__c")} for f in schema.fields.values()]})
        if len(parts) != 2:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        rid = parts[1]
        if method == "GET":
            self._count("sobject_get")
            fields = (query.get("fields") or [""])[0]
            names = [f.strip() for f in fields.split(",") if f.strip()] or None
            return Response(200, store.full_record(schema.name, rid, names))
        if method == "PATCH":
            self._count("sobject_update")
            data = self._json(body)
            if not isinstance(data, dict):
                raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
            store.update(schema.name, rid, data, auto_assign=auto_assign(headers))
            return Response(204)
        if method == "DELETE":
            self._count("sobject_delete")
            store.delete(schema.name, rid)
            return Response(204)
        self._need(method, "GET", "PATCH", "DELETE")
        raise AssertionError("unreachable")
