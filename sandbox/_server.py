"""Shared HTTPS server for the CRM emulators.

A small threaded HTTP/1.1 server (keep-alive, so pooled client connections behave as they do
against the real APIs) behind TLS from a throw-away CA generated with ``trustme``. The
emulators plug in an ``app`` callable (``Request -> Response``); this module adds the
cross-cutting parts: fault injection, a request log and quiet operation.

Typical use::

    with TLSServer(app) as srv:
        requests.get(srv.base_url + "/x", verify=srv.ca_file)
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

__all__ = [
    "Faults",
    "Headers",
    "LoggedRequest",
    "Request",
    "Response",
    "TLSServer",
    "default_is_write",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping (last value wins for repeated names)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items or [])
        self._data: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (orig for orig, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class Request:
    """One parsed HTTP request as seen by an emulator app."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # case-insensitive lookup
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON; raises ``ValueError`` on bad JSON (or bad UTF-8)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError("body is not UTF-8") from exc

    def q(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What an app answers: bytes/str bodies are sent as-is, anything else JSON-encoded."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        """The body as bytes on the wire (``None`` -> empty)."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":"), default=str).encode("utf-8")


@dataclass
class Faults:
    """Fault injection knobs; mutable at runtime (the server reads them per request)."""

    error_rate: float = 0.0  # answer 500/502/503 WITHOUT applying anything
    latency: float = 0.0  # seconds added to every answer
    reset_rate: float = 0.0  # close the connection without any reply
    ambiguous_rate: float = 0.0  # writes only: apply, then answer 502
    seed: int | None = None


@dataclass(frozen=True)
class LoggedRequest:
    """One served request (status 0 = connection reset by a fault)."""

    method: str
    path: str
    status: int
    at: float  # wall-clock start (time.time())
    duration: float  # seconds
    retry_after: float | None = None  # the Retry-After the answer carried, if any


def default_is_write(request: Request) -> bool:
    """Writes are POST/PUT/PATCH/DELETE (emulators override: e.g. a search POST is a read)."""
    return request.method in WRITE_METHODS


def _default_fault_response(status: int) -> Response:
    return Response(status, {"status": "error", "message": _REASONS.get(status, "Error")})


class _ResetConnection(Exception):
    """Raised inside the handler to drop the connection without a reply."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: TLSServer, addr: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Quiet: client disconnects and TLS handshake failures are normal in tests.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    _headers_buffer: list[bytes]  # set by BaseHTTPRequestHandler.send_response
    timeout = 60  # idle keep-alive connections are dropped after this
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
    # would add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        owner = self.server.owner
        # The TLS handshake runs here, in the connection's own thread, so one slow or broken
        # client cannot stall the accept loop.
        raw: socket.socket = self.request
        raw.settimeout(self.timeout)
        self.request = owner._ssl_context.wrap_socket(raw, server_side=True)
        owner._track(self.request, add=True)
        super().setup()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.owner._track(self.request, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return  # no access log on stderr

    def _dispatch(self) -> None:
        owner = self.server.owner
        started = time.time()
        t0 = time.perf_counter()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        req = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=Headers(list(self.headers.items())),
            body=body,
        )
        try:
            resp = owner._handle(req)
        except _ResetConnection:
            owner._log(LoggedRequest(req.method, req.path, 0, started, time.perf_counter() - t0))
            self.close_connection = True
            with contextlib.suppress(OSError):
                # SO_LINGER 0 turns the close into a TCP RST, like a dropped connection.
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.request.shutdown(socket.SHUT_RDWR)
            return
        payload = resp.encoded() if self.command != "HEAD" else b""
        self.send_response(resp.status)
        if resp.status != 204 and resp.status >= 200:
            if payload or resp.body is not None:
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        # One write for head and body: fewer TLS records, no small-packet stalls.
        self._headers_buffer.append(b"\r\n")
        if payload and resp.status != 204:
            self._headers_buffer.append(payload)
        # Logged before the reply leaves: a client that got its answer finds it in the log.
        retry_after = Headers(resp.headers).get("Retry-After") if resp.headers else None
        owner._log(
            LoggedRequest(req.method, req.path, resp.status, started, time.perf_counter() - t0,
                          float(retry_after) if retry_after else None)
        )
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class TLSServer:
    """Threaded HTTPS server on 127.0.0.1 with a trustme CA, fault injection and a request log."""

    def __init__(
        self,
        app: Callable[[Request], Response],
        *,
        port: int = 0,
        is_write: Callable[[Request], bool] = default_is_write,
        fault_response: Callable[[int], Response] = _default_fault_response,
    ) -> None:
        self.app = app
        self.port = port
        self.is_write = is_write
        self.fault_response = fault_response
        self.faults = Faults()
        self.request_log: list[LoggedRequest] = []
        self.app_errors: list[BaseException] = []  # exceptions raised by the app (answered 500)
        self.base_url = ""
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._rng_key: tuple[int, int | None] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[Any] = set()
        self._tmp = tempfile.TemporaryDirectory(prefix="leadrouter-sandbox-")
        ca = trustme.CA(organization_name="leadrouter sandbox CA")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._ssl_context = ctx

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TLSServer:
        """Bind, start serving in a background thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(self, ("127.0.0.1", self.port))
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"tls-server-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections, free the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TLSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- log -----------------------------------------------------------------------------------
    def clear_log(self) -> None:
        with self._lock:
            self.request_log.clear()

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.request_log.append(entry)

    def _track(self, conn: Any, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- request handling ---------------------------------------------------------------------
    def _random(self) -> float:
        f = self.faults
        with self._lock:
            key = (id(f), f.seed)
            if key != self._rng_key:
                # Re-seed whenever the Faults object or its seed changes: reproducible runs.
                self._rng = random.Random(f.seed)
                self._rng_key = key
            return self._rng.random()

    def _handle(self, req: Request) -> Response:
        f = self.faults
        if f.latency > 0:
            time.sleep(f.latency)
        if f.reset_rate > 0 and self._random() < f.reset_rate:
            raise _ResetConnection
        if f.error_rate > 0 and self._random() < f.error_rate:
            with self._lock:
                status = self._rng.choice((500, 502, 503))
            return self.fault_response(status)
        try:
            resp = self.app(req)
        except Exception as exc:  # the emulator itself failed: answer like a 5xx, keep serving
            with self._lock:
                self.app_errors.append(exc)
            return Response(500, {"status": "error", "message": "sandbox internal error"})
        if (
            f.ambiguous_rate > 0
            and resp.status < 300
            and self.is_write(req)
            and self._random() < f.ambiguous_rate
        ):
            # The write happened; the caller only sees a gateway error.
            return self.fault_response(502)
        return resp

