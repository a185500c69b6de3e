"""SOQL execution against a :class:`~sandbox.salesforce.store.Store`: schema checks
(fields, relationships, literal types), relationship traversal and result projection."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sandbox.salesforce import soql, soql_eval
from sandbox.salesforce.schema import ApiError, Field, SObjectSchema

if TYPE_CHECKING:
    from sandbox.salesforce.store import Store

__all__ = ["QueryEngine"]

_STRINGY = {"id", "reference", "string", "textarea", "email", "phone", "picklist"}


class QueryEngine:
    """Runs one SOQL statement against a store (the caller need not hold the lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _resolve_field(self, schema: SObjectSchema, path: str) -> tuple[str, Field | None]:
        """Canonical path and its leaf Field (None for polymorphic ``Owner.Type``)."""
        parts = path.split(".")
        schemas = [schema]
        canon: list[str] = []
        for rel in parts[:-1]:
            fields = [s.relationship(rel) for s in schemas]
            found = next((f for f in fields if f is not None), None)
            if found is None:
                raise ApiError(400, "INVALID_FIELD", f"Didn't understand relationship '{rel}' in "
                               f"field path. No such column '{rel}' on entity '{schemas[0].name}'.")
            canon.append(found.relationship or rel)
            schemas = [self.store.schemas[t] for t in found.reference_to if t in self.store.schemas]
            if not schemas:
                raise ApiError(400, "INVALID_FIELD", f"No such relation '{rel}'")
        leaf = parts[-1]
        for s in schemas:
            f = s.lookup(leaf)
            if f is not None:
                return ".".join([*canon, f.name]), f
        if len(parts) > 1 and leaf.lower() == "type":
            return ".".join([*canon, "Type"]), None
        raise ApiError(400, "INVALID_FIELD",
                       f"No such column '{leaf}' on entity '{schemas[0].name}'. If you are "
                       "attempting to use a custom field, be sure to append the '__c' after "
                       "the custom field name.")

    def _getter(self, record: dict[str, Any], path: str) -> Any:
        cur: dict[str, Any] | None = record
        parts = path.split(".")
        sobject = ""
        for rel in parts[:-1]:
            if cur is None:
                return None
            ref = next((v for k, v in cur.items()
                        if k.endswith("Id") and k[:-2].lower() == rel.lower()), None)
            found = self.store.find(ref) if isinstance(ref, str) else None
            cur, sobject = (found[1], found[0]) if found else (None, "")
        if cur is None:
            return None
        leaf = parts[-1]
        if leaf in cur:
            return cur[leaf]
        low = leaf.lower()
        if len(parts) > 1 and low == "type":  # polymorphic Owner.Type / Who.Type
            return sobject
        return next((v for k, v in cur.items() if k.lower() == low), None)

    def _validate_literal(self, name: str, f: Field | None, op: str, value: Any) -> None:
        if f is None or value is None or isinstance(value, soql.Query):
            return
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is None:
                continue
            want: str | None = None
            if f.type == "datetime" and not (
                isinstance(v, datetime | soql.RelativeDate)
            ):
                want = "dateTime"
            elif f.type == "date" and not (
                isinstance(v, soql.RelativeDate) or (isinstance(v, date)
                                                     and not isinstance(v, datetime))
            ):
                want = "date"
            elif f.type == "boolean" and not isinstance(v, bool):
                want = "boolean"
            elif f.type in ("int", "double") and (isinstance(v, bool | str)
                                                  or not isinstance(v, int | float)):
                want = "double"
            elif f.type in _STRINGY and not isinstance(v, str):
                raise ApiError(400, "INVALID_FIELD", f"value of filter criterion for field "
                               f"'{name}' must be of type string and should be enclosed in quotes")
            if want:
                raise ApiError(400, "INVALID_FIELD", f"value of filter criterion for field "
                               f"'{name}' must be of type {want} and should not be enclosed "
                               "in quotes")
        if op == "LIKE" and f.type not in _STRINGY:
            raise ApiError(400, "INVALID_FIELD", f"invalid operator on {f.type} field: LIKE")

    def _prepare(self, q: soql.Query) -> tuple[SObjectSchema, list[str]]:
        schema = self.store.schemas.get(q.sobject) or next(
            (s for n, s in self.store.schemas.items() if n.lower() == q.sobject.lower()), None)
        if schema is None:
            raise ApiError(400, "INVALID_TYPE",
                           f"sObject type '{q.sobject}' is not supported. If you are attempting "
                           "to use a custom object, be sure to append the '__c' after the "
                           "entity name.")
        q.sobject = schema.name
        canon: list[str] = []
        for name in q.fields:
            path, _ = self._resolve_field(schema, name)
            if path.lower() in (c.lower() for c in canon):
                raise ApiError(400, "MALFORMED_QUERY", f"duplicate field selected: {name}")
            canon.append(path)
        for cmp in soql.iter_fields(q.where):
            path, f = self._resolve_field(schema, cmp.field)
            cmp.field = path
            if f is not None and not f.filterable:
                raise ApiError(400, "INVALID_FIELD", f"field '{f.name}' can not be filtered in "
                               "a query call")
            self._validate_literal(path, f, cmp.op, cmp.value)
            if isinstance(cmp.value, soql.Query):
                self._prepare(cmp.value)
        for item in q.order_by:
            item.field, f = self._resolve_field(schema, item.field)
            if f is not None and not f.filterable:
                raise ApiError(400, "INVALID_FIELD", f"field '{f.name}' can not be sorted in a "
                               "query call")
        return schema, canon

    def _subquery(self, q: soql.Query) -> list[Any]:
        rows = soql_eval.evaluate(q, self.store.records[q.sobject].values(), self._getter,
                                  self.store.now(), self._subquery)
        return [self._getter(r, q.fields[0]) for r in rows]

    def _project(self, sobject: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self.store.attributes(sobject, rec["Id"])}
        for path in fields:
            parts = path.split(".")
            if len(parts) == 1:
                out[path] = rec.get(path)
                continue
            target: dict[str, Any] = out
            cur: dict[str, Any] | None = rec
            schema = self.store.schemas[sobject]
            for rel in parts[:-1]:
                f = schema.relationship(rel)
                ref = cur.get(f.name) if (cur is not None and f is not None) else None
                found = self.store.find(ref) if isinstance(ref, str) else None
                if found is None:
                    target[rel] = None
                    break
                ttype, cur = found
                schema = self.store.schemas[ttype]
                poly = f is not None and len(f.reference_to) > 1
                nested = target.get(rel)
                if not isinstance(nested, dict):
                    attrs = self.store.attributes(ttype, cur["Id"])
                    if poly:
                        attrs["type"] = "Name"
                    nested = {"attributes": attrs}
                    target[rel] = nested
                target = nested
            else:
                target[parts[-1]] = self._getter(rec, path)
        return out

    def run(self, text: str) -> tuple[soql.Query, list[dict[str, Any]]]:
        """Run SOQL; returns the parsed query and projected rows (``attributes`` first)."""
        with self.store.lock:
            try:
                q = soql.parse(text)
            except soql.SoqlError as exc:
                raise ApiError(400, exc.code, exc.message) from None
            schema, fields = self._prepare(q)
            try:
                rows = soql_eval.evaluate(q, list(self.store.records[schema.name].values()),
                                          self._getter, self.store.now(), self._subquery)
            except soql.SoqlError as exc:
                raise ApiError(400, exc.code, exc.message) from None
            if q.count_only:
                return q, rows
            return q, [self._project(schema.name, r, fields) for r in rows]
