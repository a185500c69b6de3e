"""The shared TLS server (sandbox._server) and the sandbox command (sandbox.cli)."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import urllib3

from sandbox._server import Faults, Request, Response, TLSServer
from sandbox.cli import describe
from sandbox.hubspot import HubSpotSandbox

pytestmark = pytest.mark.timeout(30)


def echo(req: Request) -> Response:
    if req.path == "/empty":
        return Response(204)
    if req.path == "/boom":
        raise RuntimeError("app failure")
    if req.path == "/text":
        return Response(200, "plain", content_type="text/plain")
    try:
        parsed = req.json() if req.body else None
    except ValueError:
        return Response(400, {"error": "bad json"})
    return Response(200, {"method": req.method, "path": req.path, "query": req.query,
                          "ua": req.headers.get("USER-AGENT"), "json": parsed},
                    headers={"X-Echo": "1"})


def https(server: TLSServer) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=server.ca_file)
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=5)


def test_round_trip_keep_alive_and_log() -> None:
    with TLSServer(echo) as srv:
        assert srv.base_url == f"https://127.0.0.1:{srv.port}"
        conn = https(srv)
        conn.request("POST", "/a/b?x=1&x=2&y=", body=b'{"k": 1}',
                     headers={"User-Agent": "t", "Content-Type": "application/json"})
        first = conn.getresponse()
        data = json.loads(first.read())
        assert first.status == 200 and first.getheader("X-Echo") == "1"
        assert data == {"method": "POST", "path": "/a/b", "query": {"x": ["1", "2"], "y": [""]},
                        "ua": "t", "json": {"k": 1}}
        sock = conn.sock
        conn.request("GET", "/empty")
        second = conn.getresponse()
        assert second.status == 204 and second.read() == b""
        assert conn.sock is sock  # same TLS connection: HTTP/1.1 keep-alive
        conn.request("GET", "/text")
        third = conn.getresponse()
        assert third.read() == b"plain" and third.getheader("Content-Type") == "text/plain"
        conn.request("POST", "/bad", body=b"{nope")
        assert conn.getresponse().status == 400
        conn.close()
        assert [(e.method, e.path, e.status) for e in srv.request_log] == [
            ("POST", "/a/b", 200), ("GET", "/empty", 204), ("GET", "/text", 200),
            ("POST", "/bad", 400)]
        assert all(e.duration >= 0 and e.at > 0 for e in srv.request_log)
        srv.clear_log()
        assert srv.request_log == []


def test_certificate_valid_for_localhost_too() -> None:
    with TLSServer(echo) as srv:
        pool = urllib3.PoolManager(ca_certs=srv.ca_file, retries=False)
        assert pool.request("GET", f"https://localhost:{srv.port}/x").status == 200
        # Without the CA the certificate is refused.
        plain = urllib3.PoolManager(retries=False)
        with pytest.raises(urllib3.exceptions.SSLError):
            plain.request("GET", srv.base_url + "/x")


def test_faults_on_the_raw_server() -> None:
    with TLSServer(echo) as srv:
        pool = urllib3.PoolManager(ca_certs=srv.ca_file, retries=False)
        srv.faults = Faults(ambiguous_rate=1.0)
        assert pool.request("GET", srv.base_url + "/r").status == 200  # reads never ambiguous
        assert pool.request("POST", srv.base_url + "/w").status == 502
        srv.faults.ambiguous_rate = 0.0
        srv.faults.error_rate = 1.0
        assert pool.request("GET", srv.base_url + "/r").status in (500, 502, 503)
        srv.faults = Faults()
        r = pool.request("GET", srv.base_url + "/boom")
        assert r.status == 500
        assert isinstance(srv.app_errors[-1], RuntimeError)
        assert pool.request("GET", srv.base_url + "/r").status == 200  # still serving


def test_seeded_faults_are_reproducible() -> None:
    def run() -> list[int]:
        with TLSServer(echo) as srv:
            srv.faults = Faults(error_rate=0.5, seed=9)
            pool = urllib3.PoolManager(ca_certs=srv.ca_file, retries=False)
            return [pool.request("GET", srv.base_url + "/r").status for _ in range(12)]

    assert run() == run()


def test_stop_frees_the_port_and_drops_connections() -> None:
    srv = TLSServer(echo).start()
    port = srv.port
    conn = https(srv)
    conn.request("GET", "/x")
    conn.getresponse().read()
    srv.stop()
    with pytest.raises(OSError):
        conn.request("GET", "/x")
        conn.getresponse()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    again = TLSServer(echo, port=port).start()
    try:
        pool = urllib3.PoolManager(ca_certs=again.ca_file, retries=False)
        assert pool.request("GET", again.base_url + "/x").status == 200
    finally:
        again.stop()


def test_describe_prints_config_snippet() -> None:
    with HubSpotSandbox() as box:
        text = describe("hubspot", box)
    assert f'base_url = "{box.base_url}"' in text
    assert f'ca_bundle = "{box.ca_file}"' in text
    assert 'token_env = "HUBSPOT_TOKEN"' in text
    assert f"export HUBSPOT_TOKEN={box.token}" in text


def test_sandbox_command_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.cli", "hubspot", "--seed", "demo:25"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("export HUBSPOT_TOKEN="):
                break
        out = "".join(lines)
        base_url = next(ln.split('"')[1] for ln in lines if ln.startswith("base_url"))
        ca = next(ln.split('"')[1] for ln in lines if ln.startswith("ca_bundle"))
        token = lines[-1].strip().split("=", 1)[1]
        assert "[crm.hubspot]" in out
        pool = urllib3.PoolManager(ca_certs=ca, retries=False)
        r = pool.request("POST", base_url + "/crm/v3/objects/contacts/search", body=b"{}",
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
        assert r.status == 200 and json.loads(r.data)["total"] == 25
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unknown_seed_is_a_clean_error() -> None:
    from sandbox.cli import serve

    buf = io.StringIO()
    assert serve("hubspot", "nonsense", 0, out=buf) == 2
    assert buf.getvalue() == ""
