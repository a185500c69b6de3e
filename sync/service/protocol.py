"""uvicorn's h11 protocol with the limits it lacks: a deadline for each request head, one
for each request body, and a cap on open connections.

uvicorn (h11) has a keep-alive timeout, but nothing bounds how long a client may take to
send a request head or body, and nothing bounds how many connections stay open: slow
clients (slowloris) held every file descriptor, `accept()` failed, /healthz became
unreachable. `limit_concurrency` does not help: it answers 503 to *new requests* once that
many connections are open, so the slow connections would lock everyone else out.

Here:
- a connection must deliver each request head within `header_timeout` (from when it opened,
  or from the end of the previous response) and its body within `body_timeout` of the
  head; else it is closed;
- at most `max_connections` are open: past that, a new connection evicts the one that has
  waited longest for a request head or body (the slow ones: a healthy client sends both at
  once), or is closed itself when every connection is busy with a request;
- an exception while parsing what a client sent closes that connection without a
  traceback (uvicorn expects only h11's RemoteProtocolError).

Each closed connection is reported to `on_drop(reason)` (a metric).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

CLIENT_CERT = "leadrouter.client_cert"  # scope["state"] key: True when a verified cert came


@dataclass(frozen=True)
class HttpLimits:
    max_connections: int
    header_timeout: float  # seconds
    body_timeout: float  # seconds
    on_drop: Callable[[str], None] = lambda reason: None


class GuardedH11Protocol(H11Protocol):
    limits: ClassVar[HttpLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = "head"  # head | body | busy
        self._waiting_since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            # per connection: scope["state"] is copied from app_state for every request
            self.app_state = {**self.app_state, CLIENT_CERT: bool(ssl_object.getpeercert())}
        self._await_head()
        self._enforce_cap()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        try:
            super().data_received(data)
        except Exception:  # a client's bytes must never produce a traceback
            self._drop("protocol_error")
            return
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    # -- deadlines ------------------------------------------------------------------------
    def _track(self) -> None:
        """Follow h11's view of the client: waiting for a head, a body, or neither."""
        if self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase != "head":
                self._await_head()
        elif state is h11.SEND_BODY:
            if self._phase != "body":
                self._waiting_since = self.loop.time()
                self._arm("body", self.limits.body_timeout, "body_timeout")
        elif self._phase != "busy":
            self._cancel()
            self._phase = "busy"

    def _await_head(self) -> None:
        self._waiting_since = self.loop.time()
        self._arm("head", self.limits.header_timeout, "header_timeout")

    def _arm(self, phase: str, seconds: float, reason: str) -> None:
        self._cancel()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._drop, reason)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _drop(self, reason: str) -> None:
        self._cancel()
        if self.transport is not None and not self.transport.is_closing():
            self.limits.on_drop(reason)
            self.transport.abort()  # no lingering: the descriptor is what is scarce

    # -- the connection cap ---------------------------------------------------------------
    def _enforce_cap(self) -> None:
        live = [p for p in self.connections if not p.transport.is_closing()]
        if len(live) <= self.limits.max_connections:
            return
        waiting = [p for p in live if isinstance(p, GuardedH11Protocol) and p is not self
                   and p._phase != "busy"]
        if waiting:
            min(waiting, key=lambda p: p._waiting_since)._drop("evicted")
        else:
            self._drop("refused")


def guarded_protocol(limits: HttpLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to `limits` (uvicorn instantiates the class it is given)."""
    return type("LeadrouterH11Protocol", (GuardedH11Protocol,), {"limits": limits})
