"""sObject Collections (``/composite/sobjects``) and Composite (``/composite``) resources."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sandbox._server import Headers, Response
from sandbox.salesforce.schema import ApiError

if TYPE_CHECKING:
    from sandbox.salesforce.app import SalesforceApp

__all__ = ["MAX_COLLECTION", "MAX_COMPOSITE", "CompositeHandler", "auto_assign", "error_response"]

MAX_COLLECTION = 200
MAX_COMPOSITE = 25
MAX_COMPOSITE_QUERIES = 5
_VERSION_RE = re.compile(r"^/services/data/v(\d{2}\.\d)(/.*)?$")
_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")


def error_response(exc: ApiError) -> Response:
    return Response(exc.status, exc.body())


def auto_assign(headers: Mapping[str, str]) -> bool:
    """``Sforce-Auto-Assign`` defaults to TRUE; only FALSE (any case) or 0 turns it off."""
    value = headers.get("Sforce-Auto-Assign")
    return value is None or value.strip().lower() not in ("false", "0")


class CompositeHandler:
    """Both batch resources; subrequests are routed back through ``app.dispatch``."""

    def __init__(self, app: SalesforceApp) -> None:
        self.app = app

    # -- sObject Collections ---------------------------------------------------------------------
    def collections(self, method: str, parts: list[str], query: Mapping[str, list[str]],
                     headers: Mapping[str, str], body: bytes | Any) -> Response:
        store = self.app.store
        if method == "GET":
            if len(parts) != 1:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            ids = [i for i in (query.get("ids") or [""])[0].split(",") if i]
            names = [f for f in (query.get("fields") or [""])[0].split(",") if f]
            if len(ids) > MAX_COLLECTION:
                raise ApiError(400, "EXCEEDED_ID_LIMIT", "too many ids")
            out: list[Any] = []
            for i in ids:
                try:
                    out.append(store.full_record(parts[0], i, names or None))
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    out.append(None)
            return Response(200, out)
        if method == "DELETE":
            ids = [i for i in (query.get("ids") or [""])[0].split(",") if i]
            all_or_none = (query.get("allOrNone") or ["false"])[0].lower() == "true"
            ops = [self._delete_op(i) for i in ids]
            return Response(200, self._run_collection(ops, all_or_none, ids))
        self.app._need(method, "POST", "PATCH", "DELETE", "GET")
        data = self.app._json(body)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected {\"records\": [...]}")
        records: list[Any] = data["records"]
        if len(records) > MAX_COLLECTION:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                           f"than {MAX_COLLECTION} records into this call")
        auto = auto_assign(headers)
        creating = method == "POST"
        ops = [self._collection_op(r, creating, auto) for r in records]
        rids: list[Any] = [
            (r.get("id") or r.get("Id")) if isinstance(r, dict) and not creating else None
            for r in records]
        return Response(200, self._run_collection(ops, bool(data.get("allOrNone")), rids))

    def _delete_op(self, rid: str) -> Callable[[], str]:
        def op() -> str:
            found = self.app.store.find(rid)
            if found is None:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
            self.app.store.delete(found[0], rid)
            return rid
        return op

    def _collection_op(self, record: Any, creating: bool, auto: bool) -> Callable[[], str]:
        def op() -> str:
            if not isinstance(record, dict):
                raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
            values = dict(record)
            attrs = values.pop("attributes", None)
            sobject = attrs.get("type") if isinstance(attrs, dict) else None
            if not sobject:
                raise ApiError(400, "INVALID_FIELD", "No type provided in the attributes")
            rid = values.pop("id", None) or values.pop("Id", None)
            if creating:
                if rid:
                    raise ApiError(400, "INVALID_FIELD",
                                   "cannot specify Id in an insert call", ["Id"])
                return self.app.store.insert(sobject, values, auto_assign=auto)
            if not rid:
                raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
            self.app.store.update(sobject, str(rid), values, auto_assign=auto)
            return str(rid)
        return op

    def _run_collection(self, ops: list[Callable[[], str]], all_or_none: bool,
                        ids: list[Any]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        failed = False

        class _Rollback(Exception):
            pass

        try:
            with self.app.store.transaction():
                for op, rid in zip(ops, ids, strict=True):
                    try:
                        new_id = op()
                        results.append({"id": new_id, "success": True, "errors": []})
                    except ApiError as exc:
                        failed = True
                        res: dict[str, Any] = {"success": False,
                                               "errors": [exc.save_error()]}
                        if rid:
                            res = {"id": rid, **res}
                        results.append(res)
                if failed and all_or_none:
                    raise _Rollback
        except _Rollback:
            rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                      "message": "Record rolled back because not all records were valid and "
                                 "the request was using AllOrNone header", "fields": []}
            for i, res in enumerate(results):
                if res["success"]:
                    res2: dict[str, Any] = {"success": False, "errors": [rolled]}
                    if ids[i]:
                        res2 = {"id": ids[i], **res2}
                    results[i] = res2
        return results

    # -- composite -------------------------------------------------------------------------------
    def composite(self, data: Any, headers: Mapping[str, str]) -> Response:
        if not isinstance(data, dict) or not isinstance(data.get("compositeRequest"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected {\"compositeRequest\": [...]}")
        subs: list[Any] = data["compositeRequest"]
        if len(subs) > MAX_COMPOSITE:
            raise ApiError(400, "LIMIT_EXCEEDED",
                           f"Composite request may contain at most {MAX_COMPOSITE} subrequests")
        queries = sum(1 for s in subs if isinstance(s, dict)
                      and "/query" in str(s.get("url", "")))
        if queries > MAX_COMPOSITE_QUERIES:
            raise ApiError(400, "LIMIT_EXCEEDED", "Composite request may contain at most "
                           f"{MAX_COMPOSITE_QUERIES} query subrequests")
        all_or_none = bool(data.get("allOrNone"))
        results: list[dict[str, Any]] = []
        refs: dict[str, Any] = {}
        halted = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled "
                   "back since another operation in the same transaction failed."}]

        class _Rollback(Exception):
            pass

        try:
            with self.app.store.transaction():
                for sub in subs:
                    res = self._subrequest(sub, refs, headers)
                    results.append(res)
                    if res["httpStatusCode"] >= 400 and all_or_none:
                        raise _Rollback
        except _Rollback:
            for res in results[:-1]:
                res.update({"body": halted, "httpHeaders": {}, "httpStatusCode": 400})
            for sub in subs[len(results):]:
                ref = sub.get("referenceId") if isinstance(sub, dict) else None
                results.append({"body": halted, "httpHeaders": {}, "httpStatusCode": 400,
                                "referenceId": ref})
        return Response(200, {"compositeResponse": results})

    def _subrequest(self, sub: Any, refs: dict[str, Any],
                    headers: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(sub, dict):
            return {"body": [{"errorCode": "JSON_PARSER_ERROR", "message": "bad subrequest"}],
                    "httpHeaders": {}, "httpStatusCode": 400, "referenceId": None}
        ref_id = sub.get("referenceId")
        try:
            url = self._substitute(str(sub.get("url", "")), refs)
            body = self._substitute(sub.get("body"), refs)
            path, _, qs = url.partition("?")
            m = _VERSION_RE.match(path.rstrip("/"))
            if m is None:
                raise ApiError(400, "INVALID_URL", "the subrequest url is not a REST API url")
            sub_headers = {**dict(headers.items()), **(sub.get("httpHeaders") or {})}
            resp = self.app.dispatch(str(sub.get("method", "GET")).upper(), m.group(2) or "/",
                                 parse_qs(qs, keep_blank_values=True), Headers(sub_headers), body)
        except ApiError as exc:
            resp = error_response(exc)
        if resp.status < 300 and ref_id:
            refs[str(ref_id)] = resp.body
        hdrs = {k: v for k, v in resp.headers.items() if k == "Location"}
        return {"body": resp.body, "httpHeaders": hdrs, "httpStatusCode": resp.status,
                "referenceId": ref_id}

    def _substitute(self, value: Any, refs: dict[str, Any]) -> Any:
        if isinstance(value, str):
            def repl(m: re.Match[str]) -> str:
                return str(self._deref(m.group(1), m.group(2), refs))
            return _REF_RE.sub(repl, value)
        if isinstance(value, list):
            return [self._substitute(v, refs) for v in value]
        if isinstance(value, dict):
            return {k: self._substitute(v, refs) for k, v in value.items()}
        return value

    @staticmethod
    def _deref(ref: str, path: str, refs: dict[str, Any]) -> Any:
        if ref not in refs:
            raise ApiError(400, "PROCESSING_HALTED",
                           f"Invalid reference specified. No value for {ref} found")
        cur = refs[ref]
        for key in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            try:
                cur = cur[int(key[1])] if key[1] else cur[key[0]]
            except (KeyError, IndexError, TypeError):
                raise ApiError(400, "PROCESSING_HALTED", f"Invalid reference specified. "
                               f"No value for {ref}{path} found") from None
        return cur

