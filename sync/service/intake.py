"""Who may put how much into the webhook inbox: a per-source budget of stored events, the
client's network address (trusting X-Forwarded-For only from known proxies) and the
allow-list of source networks.

Each stored event can cost CRM API calls, so an outsider who can post webhooks must not be
able to grow the inbox or spend the CRM's daily API budget without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from sync.config.models import IPNetwork

IPAddress = IPv4Address | IPv6Address
MAX_FORWARDED_CHARS = 2048  # a longer X-Forwarded-For is not from a proxy chain of ours


class EventBudget:
    """A token bucket per source: `per_minute` events, refilled continuously.

    A request takes as many tokens as it would store events; a request bigger than the
    whole minute's budget is let in when the bucket is full (and empties it), so a small
    budget can never refuse one delivery forever.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(max(per_minute, 1))
        self.rate = self.capacity / 60.0  # tokens per second
        self.clock = clock
        self._tokens: dict[str, tuple[float, float]] = {}  # source -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, source: str, count: int) -> float:
        """0.0 when `count` events may be stored now (and they are charged), else the
        seconds until they could be."""
        if count <= 0:
            return 0.0
        cost = min(float(count), self.capacity)
        with self._lock:
            now = self.clock()
            tokens, at = self._tokens.get(source, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= cost:
                self._tokens[source] = (tokens - cost, now)
                return 0.0
            self._tokens[source] = (tokens, now)
            return (cost - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, 1 to 60."""
    return str(min(60, max(1, math.ceil(seconds))))


def parse_address(text: str) -> IPAddress | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def within(address: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    if address is None:
        return False
    return any(address.version == net.version and address in net for net in networks)


def forwarded_client(peer: IPAddress, forwarded_for: str,
                     trusted: tuple[IPNetwork, ...]) -> IPAddress | None:
    """The client behind a chain of trusted proxies: the right-most X-Forwarded-For entry
    that is not itself a trusted proxy (each proxy appends the address it saw, so entries
    further left are whatever the client claimed). None when the header is malformed."""
    if len(forwarded_for) > MAX_FORWARDED_CHARS:
        return None
    hops = [parse_address(entry) for entry in forwarded_for.split(",")]
    if any(hop is None for hop in hops):
        return None
    for hop in reversed(hops):
        if not within(hop, trusted):
            return hop
    return hops[0] if hops else peer


class ForwardedHeaders:
    """ASGI middleware: when the direct peer is a trusted proxy, the client address and
    scheme come from its X-Forwarded-For / X-Forwarded-Proto; from anyone else those headers
    are ignored. A malformed X-Forwarded-For from a trusted proxy leaves the client unknown
    (`scope["client"] = None`), which no allow-list admits.

    (uvicorn's own proxy-header handling is turned off: it trusts 127.0.0.1 by default and
    lets a bad header through as the client's "address".)
    """

    def __init__(self, app: Any, trusted: tuple[IPNetwork, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.trusted:
            client = scope.get("client")
            peer = parse_address(str(client[0])) if client else None
            if peer is not None and within(peer, self.trusted):
                scope = dict(scope)
                self._rewrite(scope, peer)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: dict[str, Any], peer: IPAddress) -> None:
        forwarded: list[str] = []
        proto = ""
        for name, value in scope.get("headers") or ():
            if name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        if forwarded:
            client = forwarded_client(peer, ",".join(forwarded), self.trusted)
            scope["client"] = (str(client), 0) if client is not None else None
        if proto in ("http", "https"):
            scope["scheme"] = proto
