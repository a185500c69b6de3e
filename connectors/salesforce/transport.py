"""simple-salesforce wired once: one requests session (CA that wins over the environment),
one client-side limiter, the shared retry layer, token renewal, and the API budget.

simple-salesforce retries nothing by itself when given a session id (its 401 refresh only
runs for its own login flows), so `connectors.retry.RetryPolicy` is the only retry layer.
Every response's `Sforce-Limit-Info: api-usage=n/N` is read; once fewer than `api_reserve`
calls remain, calls stop with `BudgetError` (an `AuthError`: a person must act).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import AuthError, CrmError, RetriableError
from connectors.ratelimit import RollingWindow
from connectors.retry import RetryPolicy
from connectors.salesforce.auth import AccessToken, TokenKeeper
from connectors.salesforce.errors import BudgetError, classify
from connectors.stats import CallStats

Operation = Callable[[Salesforce], Any]


def make_session(ca_bundle: str) -> requests.Session:
    """With a CA file, `trust_env` goes off: otherwise `REQUESTS_CA_BUNDLE` would replace
    `session.verify` on every request (requests merges the environment first)."""
    session = requests.Session()
    if ca_bundle:
        session.trust_env = False
        session.verify = ca_bundle
    return session


class SalesforceTransport:
    def __init__(self, *, instance_url: str, tokens: TokenKeeper, session: requests.Session,
                 api_version: str = "59.0", timeout: float = 30.0, api_reserve: int = 0,
                 requests_per_second: int = 25, query_batch_size: int | None = None,
                 retry: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.tokens = tokens
        self.session = session
        self.api_version = api_version
        self.timeout = timeout
        self.api_reserve = api_reserve
        # `Sforce-Query-Options: batchSize=N` (200..2000; the API's default is 2000)
        self._query_headers = ({"Sforce-Query-Options": f"batchSize={query_batch_size}"}
                               if query_batch_size else {})
        self.limiter = RollingWindow(requests_per_second, 1.0, clock=clock, sleep=sleep)
        self.retry = retry or RetryPolicy(sleep=sleep)
        self.stats = CallStats(frozenset({429, 403}))
        self.usage: tuple[int, int] | None = None  # (used, limit) from Sforce-Limit-Info
        self._client: Salesforce | None = None
        self._client_token: AccessToken | None = None
        self._lock = threading.Lock()

    # --- the client, rebuilt only when the token changes ------------------------------------
    def client(self) -> tuple[Salesforce, AccessToken]:
        token = self.tokens.current()
        with self._lock:
            if self._client is None or self._client_token is not token:
                self._client = Salesforce(instance_url=token.instance_url or self.instance_url,
                                          session_id=token.value, session=self.session,
                                          version=self.api_version, object_pairs_hook=dict)
                self._client_token = token
            return self._client, token

    @property
    def remaining(self) -> int | None:
        """Daily API calls left, as of the last response (None before the first)."""
        return None if self.usage is None else self.usage[1] - self.usage[0]

    def _check_budget(self, endpoint: str) -> None:
        left = self.remaining
        if left is not None and self.usage is not None and left < self.api_reserve:
            raise BudgetError(f"Salesforce {endpoint}: API budget reserve reached ({left} of "
                              f"{self.usage[1]} daily calls left, api_reserve "
                              f"{self.api_reserve})", status=None)

    # --- calls ------------------------------------------------------------------------------
    def call(self, endpoint: str, operation: Operation, *, retry: bool = True) -> Any:
        """One logical request through the budget check, the limiter and (unless
        `retry=False`) the retry layer. A 401 renews a refreshable token and tries once
        more (the request was not applied)."""
        def once() -> Any:
            try:
                return self._send(endpoint, operation)
            except AuthError as exc:
                if exc.status != 401 or not self.tokens.refreshable or \
                        isinstance(exc, BudgetError):
                    raise
            return self._send(endpoint, operation)

        if not retry:
            return once()
        return self.retry.call(endpoint, once)

    def _send(self, endpoint: str, operation: Operation) -> Any:
        self._check_budget(endpoint)
        self.limiter.acquire()
        client, token = self.client()
        try:
            result = operation(client)
        except SalesforceError as exc:
            status = int(exc.status or 0)
            self.stats.count(endpoint, status)
            error: CrmError = classify(endpoint, status, exc.content)
            if status == 401:
                self.tokens.invalidate(token)
            raise error from None
        except requests.RequestException as exc:
            self.stats.count(endpoint, 0)
            raise RetriableError(f"Salesforce {endpoint}: {type(exc).__name__}",
                                 status=0) from None
        except ValueError:  # a 2xx whose body is not JSON (a proxy's page)
            self.stats.count(endpoint, 0)
            raise RetriableError(f"Salesforce {endpoint}: unreadable answer", status=0
                                 ) from None
        self.stats.count(endpoint, 200)
        usage = client.api_usage.get("api-usage")
        if usage is not None:
            self.usage = (int(usage.used), int(usage.total))
        return result

    # --- the three shapes of request the connector makes -------------------------------------
    def query(self, endpoint: str, soql: str) -> dict[str, Any]:
        return self.call(endpoint, lambda sf: sf.query(
            soql, headers=self._query_headers, timeout=self.timeout)) or {}

    def query_more(self, endpoint: str, next_url: str) -> dict[str, Any]:
        return self.call(endpoint, lambda sf: sf.query_more(
            next_url, identifier_is_url=True, headers=self._query_headers,
            timeout=self.timeout)) or {}

    def restful(self, endpoint: str, path: str, *, method: str, json: Any,
                headers: dict[str, str] | None = None, retry: bool = True) -> Any:
        return self.call(endpoint, lambda sf: sf.restful(
            path, method=method, json=json, headers=headers or {}, timeout=self.timeout),
            retry=retry)

    def close(self) -> None:
        self.session.close()
