"""SOQL, written once: literals that cannot inject, id lists, and the `nextRecordsUrl` pager."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from connectors.paging import chunked
from connectors.salesforce.errors import classify
from connectors.salesforce.transport import SalesforceTransport

IN_CHUNK = 200  # ids per `IN (...)`: keeps the GET URL far below Salesforce's 16 KB
_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?$")


def literal(value: str) -> str:
    """A quoted SOQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def soql_datetime(moment: datetime) -> str:
    """An unquoted dateTime literal, whole seconds (the documented format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def id_list(ids: Iterable[str]) -> str:
    """`('id1','id2')`; anything that is not a Salesforce id is refused, not quoted."""
    checked = []
    for value in ids:
        if not _ID.match(value):
            raise ValueError("not a Salesforce record id")
        checked.append(f"'{value}'")
    return "(" + ",".join(checked) + ")"


def field_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f'"{name}" is not a Salesforce field name')
    return name


def select_list(names: Iterable[str]) -> str:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(field_name(name).lower(), name)
    return ", ".join(seen.values())


def parse_time(value: object) -> datetime | None:
    """`2026-11-28T04:58:00.000+0000` (Salesforce's wire format) or any ISO 8601."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SoqlPager:
    """Pages of one query: the first from `query`, the rest by following `nextRecordsUrl`
    (`query_more`), each page one API call; `has_more` tells whether a page is left."""

    def __init__(self, transport: SalesforceTransport, endpoint: str, soql: str) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._soql = soql
        self.has_more = False

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        page = self._transport.query(self._endpoint, self._soql)
        while True:
            following = page.get("nextRecordsUrl")
            self.has_more = bool(following) and not page.get("done", True)
            yield list(page.get("records") or [])
            if not self.has_more:
                return
            page = self._transport.query_more(self._endpoint, str(following))


def query_all(transport: SalesforceTransport, endpoint: str, soql: str
              ) -> list[dict[str, Any]]:
    return [record for page in SoqlPager(transport, endpoint, soql) for record in page]


def query_by_ids(transport: SalesforceTransport, endpoint: str, template: str,
                 ids: Sequence[str], *, chunk: int = IN_CHUNK) -> list[dict[str, Any]]:
    """Run `template` (with one `{ids}` placeholder) once per chunk of distinct ids."""
    records: list[dict[str, Any]] = []
    for part in chunked(list(dict.fromkeys(ids)), chunk):
        records.extend(query_all(transport, endpoint, template.format(ids=id_list(part))))
    return records


MAX_COMPOSITE_QUERIES = 5  # query subrequests per Composite request


def composite_queries(transport: SalesforceTransport, endpoint: str,
                      queries: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Up to five queries in one Composite request (one API call); further pages of any of
    them are followed with `query_more`. Records by the queries' names."""
    if len(queries) > MAX_COMPOSITE_QUERIES:
        raise ValueError("a Composite request takes at most five queries")
    base = f"/services/data/v{transport.api_version}/query"
    body = {"allOrNone": False, "compositeRequest": [
        {"method": "GET", "url": f"{base}?{urlencode({'q': soql})}", "referenceId": name}
        for name, soql in queries.items()]}
    answer = transport.restful(endpoint, "composite", method="POST", json=body) or {}
    found: dict[str, list[dict[str, Any]]] = {}
    for sub in answer.get("compositeResponse") or []:
        name = str(sub.get("referenceId"))
        status = int(sub.get("httpStatusCode") or 0)
        page = sub.get("body")
        if status >= 300 or not isinstance(page, dict):
            raise classify(f"{endpoint}.{name}", status, page)
        records = list(page.get("records") or [])
        while page.get("nextRecordsUrl") and not page.get("done", True):
            page = transport.query_more(f"{endpoint}.{name}", str(page["nextRecordsUrl"]))
            records.extend(page.get("records") or [])
        found[name] = records
    missing = set(queries) - set(found)
    if missing:
        raise classify(endpoint, 0, None)  # an answer without our subrequests: try again
    return found
