"""hubspot-api-client wired once: host, token, CA, no hidden retries, our limiter and retries.

The generated client builds a new ApiClient (and connection pool) on every attribute
access of `client.crm...`, so each API object is built once and kept. Responses are read
raw (`_preload_content=False`) and parsed as JSON: the generated models cost more than
the whole rest of a sync cycle and add nothing we use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from hubspot import Client
from urllib3.util.retry import Retry

from connectors.base import CrmError, RetriableError
from connectors.hubspot.errors import classify
from connectors.ratelimit import RollingWindow
from connectors.retry import RetryPolicy
from connectors.stats import CallStats


def _is_api_exception(exc: BaseException) -> bool:
    # every generated package (contacts, owners, tasks...) has its own ApiException class
    return type(exc).__module__.startswith("hubspot.") and hasattr(exc, "status")


class HubSpotTransport:
    def __init__(self, *, base_url: str, token: str, ca_bundle: str = "", timeout: float = 30.0,
                 requests_per_10s: int = 190, searches_per_second: int = 5,
                 retry: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        options: dict[str, Any] = {"access_token": token, "host": base_url,
                                   "retry": Retry(total=0, redirect=0, raise_on_status=False)}
        if ca_bundle:
            options["ssl_ca_cert"] = ca_bundle
        self._client = Client.create(**options)
        self._timeout = timeout
        self._apis: dict[str, Any] = {}
        self._apis_lock = threading.Lock()
        self.general = RollingWindow(requests_per_10s, 10.0, clock=clock, sleep=sleep)
        self.search = RollingWindow(searches_per_second, 1.0, clock=clock, sleep=sleep)
        self.retry = retry or RetryPolicy(sleep=sleep)
        self.stats = CallStats()

    def api(self, path: str) -> Any:
        """`"crm.contacts.search_api"` -> that API object, built once."""
        with self._apis_lock:
            if path not in self._apis:
                target: Any = self._client
                for part in path.split("."):
                    target = getattr(target, part)
                self._apis[path] = target
            return self._apis[path]

    def call(self, endpoint: str, api: str, method: str, *, search: bool = False,
             retry: bool = True, **kwargs: Any) -> Any:
        """One logical request, through the limiter and (unless `retry=False`) the retry
        layer; returns the parsed JSON body (None when empty)."""
        def once() -> Any:
            return self._send(endpoint, api, method, search, kwargs)

        if not retry:
            return once()
        return self.retry.call(endpoint, once)

    def _send(self, endpoint: str, api: str, method: str, search: bool,
              kwargs: dict[str, Any]) -> Any:
        with (self.search if search else self.general).slot():
            return self._sent(endpoint, api, method, search, kwargs)

    def _sent(self, endpoint: str, api: str, method: str, search: bool,
              kwargs: dict[str, Any]) -> Any:
        function = getattr(self.api(api), method)
        try:
            response = function(**kwargs, _preload_content=False,
                                _request_timeout=self._timeout)
        except urllib3.exceptions.HTTPError as exc:
            self.stats.count(endpoint, 0)
            raise RetriableError(f"HubSpot {endpoint}: {type(exc).__name__}", status=0) from None
        except Exception as exc:
            if not _is_api_exception(exc):
                raise
            status = int(getattr(exc, "status", 0) or 0)
            self.stats.count(endpoint, status)
            error: CrmError = classify(endpoint, status, getattr(exc, "headers", None),
                                       getattr(exc, "body", None))
            if status == 429 and error.retry_after and isinstance(error, RetriableError):
                # everyone waits out the window, not just this call
                (self.search if search else self.general).pause_for(error.retry_after)
            raise error from None
        self.stats.count(endpoint, response.status)
        data = response.data
        return json.loads(data) if data else None
