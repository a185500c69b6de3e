"""Request-body validation against HubSpot's published OpenAPI documents.

The documents live in ``/work/shared/specs/hubspot`` (override with ``LEADROUTER_HUBSPOT_SPECS``).
Validators are built once per (document, schema) and cached.

Where the published documents are stricter than the live API (and than hubspot-api-client 12,
which produces such bodies), the schema is relaxed, deliberately and only here:

- ``PublicObjectSearchRequest`` lists every field as required; the API accepts any subset (a
  first page has no ``after``). Its ``sorts`` is typed as strings, but the documented form is
  ``{"propertyName", "direction"}`` objects: both are accepted.
- ``SimplePublicObjectInputForCreate`` requires ``associations``; the API does not.
- ``BatchReadInputSimplePublicObjectId`` requires ``properties``/``propertiesWithHistory``; the
  API only needs ``inputs``.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SPEC_DIR", "SpecValidator", "validation_errors"]

SPEC_DIR = Path(os.environ.get("LEADROUTER_HUBSPOT_SPECS", "/work/shared/specs/hubspot"))

_SORT_ITEM: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "required": ["propertyName"],
            "properties": {
                "propertyName": {"type": "string"},
                "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]},
            },
        },
    ]
}


def _relax(schemas: dict[str, Any]) -> None:
    search = schemas.get("PublicObjectSearchRequest")
    if search:
        search["required"] = []
        search["properties"]["sorts"]["items"] = _SORT_ITEM
    create = schemas.get("SimplePublicObjectInputForCreate")
    if create:
        create["required"] = ["properties"]
    batch_read = schemas.get("BatchReadInputSimplePublicObjectId")
    if batch_read:
        batch_read["required"] = ["inputs"]


class SpecValidator:
    """Validates JSON bodies against named component schemas of the HubSpot documents."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        self.spec_dir = spec_dir
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, Any]] = {}
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    def _doc(self, name: str) -> dict[str, Any]:
        doc = self._docs.get(name)
        if doc is None:
            with (self.spec_dir / f"{name}.json").open(encoding="utf-8") as fh:
                doc = json.load(fh)
            doc = copy.deepcopy(doc)
            _relax(doc.get("components", {}).get("schemas", {}))
            self._docs[name] = doc
        return doc

    def validator(self, doc_name: str, schema: str) -> Draft202012Validator:
        """The cached validator for ``#/components/schemas/<schema>`` of ``<doc_name>.json``."""
        key = (doc_name, schema)
        with self._lock:
            v = self._validators.get(key)
            if v is None:
                doc = self._doc(doc_name)
                uri = f"urn:hubspot:{doc_name}"
                registry: Registry[Any] = Registry().with_resource(
                    uri, Resource.from_contents(doc, default_specification=DRAFT202012)
                )
                v = Draft202012Validator(
                    {"$ref": f"{uri}#/components/schemas/{schema}"}, registry=registry
                )
                self._validators[key] = v
            return v

    def errors(self, doc_name: str, schema: str, body: Any) -> list[str]:
        """Human-readable problems (empty when the body fits)."""
        return validation_errors(self.validator(doc_name, schema), body)


def validation_errors(validator: Draft202012Validator, body: Any) -> list[str]:
    """Flatten jsonschema errors into ``path: message`` lines (values not echoed: PHI)."""
    out = []
    for err in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path))):
        where = ".".join(str(p) for p in err.absolute_path) or "<body>"
        # err.message can quote the offending value; keep only the validator's verdict.
        out.append(f"{where}: failed '{err.validator}' ({_describe(err.validator_value)})")
    return out


def _describe(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)
