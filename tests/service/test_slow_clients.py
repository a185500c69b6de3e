"""Slow clients (slowloris) against the real `leadrouter run` process with 128 open files.

Each attacking connection sends part of a request head (or a whole head and then a body)
one byte a second and reconnects as soon as the service drops it, the way a slowloris tool
does. The service must keep answering /healthz quickly and must not flood its log.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable

import httpx

from tests.service.conftest import ServiceProcess

HEAD = b"POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\n"
# a body under the service's 64 KB cap (conftest), so the service waits for it
BODY_HEAD = (b"POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n")


class Slowloris:
    """`heads` connections trickling a request head, `bodies` trickling a request body."""

    def __init__(self, port: int, heads: int, bodies: int, *, byte_every: float = 1.0) -> None:
        self.port = port
        self.plan = [False] * heads + [True] * bodies
        self.byte_every = byte_every
        self.connected = 0
        self.dropped = 0  # connections the service closed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        await asyncio.gather(*(self._one(body) for body in self.plan))

    async def _one(self, body: bool) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            self.connected += 1
            try:
                writer.write(BODY_HEAD if body else HEAD)
                await writer.drain()
                while not self._stop.is_set() and not reader.at_eof():
                    await asyncio.sleep(self.byte_every)
                    writer.write(b" " if body else b"X")
                    await writer.drain()
                if not self._stop.is_set():
                    self.dropped += 1
            except OSError:
                self.dropped += 1
            finally:
                writer.close()


def _healthz_seconds(url: str) -> float:
    started = time.monotonic()
    with httpx.Client(trust_env=False, timeout=10) as client:
        response = client.get(url + "/healthz")
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def test_300_slow_connections_leave_healthz_fast_and_the_log_small(
        service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    svc.start(max_fds=128)
    log_before = svc.log_path.stat().st_size
    latencies: list[float] = []
    # 20 s instead of 60: the log limiter lets one line per kind of failure through per
    # minute, so what the log can grow by does not depend on how long the attack lasts past
    # its first seconds (every kind of failure occurs within the first few seconds).
    with Slowloris(svc.port, heads=200, bodies=100) as attack:
        deadline = time.monotonic() + 20
        time.sleep(2)  # let all 300 connect
        while time.monotonic() < deadline:
            latencies.append(_healthz_seconds(svc.url))
            time.sleep(0.5)
        connected = attack.connected
    growth = svc.log_path.stat().st_size - log_before
    log = svc.log_path.read_text(errors="replace")
    assert connected >= 300
    assert max(latencies) < 2.0, latencies
    # the connection cap sits below the 128 descriptors, and slow connections made room
    assert json.loads(log.splitlines()[0])["config"]["max_connections"] < 128
    assert svc.metrics()["leadrouter_http_connections_dropped_total{reason=evicted}"] > 0
    assert growth < 1_000_000, growth
    assert "Traceback" not in log
    assert _healthz_seconds(svc.url) < 2.0
    assert svc.stop() < 10 and svc.proc is not None and svc.proc.returncode == 0


def test_a_request_head_or_body_that_does_not_arrive_in_time_is_dropped(
        service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m",
                          extra_service='header_timeout = "2s"\nbody_timeout = "3s"\n')
    svc.start()

    def seconds_until_dropped(first: bytes, trickle: bytes) -> float:
        with socket.create_connection(("127.0.0.1", svc.port), timeout=1) as sock:
            sock.sendall(first)
            started = time.monotonic()
            while time.monotonic() - started < 20:
                try:
                    sock.sendall(trickle)
                    if sock.recv(1024) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            return time.monotonic() - started

    head = seconds_until_dropped(HEAD, b"X")
    body = seconds_until_dropped(BODY_HEAD, b" ")
    assert 1.5 < head < 4.5, head
    assert 2.5 < body < 5.5, body
    m = svc.metrics()
    assert m["leadrouter_http_connections_dropped_total{reason=header_timeout}"] >= 1
    assert m["leadrouter_http_connections_dropped_total{reason=body_timeout}"] >= 1
    log = svc.log_path.read_text()
    assert "Traceback" not in log
