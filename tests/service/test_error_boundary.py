"""The last-resort boundary of the HTTP side: an exception no handler expected becomes a 500
and one redacted line, never a traceback, whatever the exception says.

Every failure the service's handlers know of is answered with a 4xx by the handlers
themselves (test_malformed_requests.py), so no real endpoint is left that raises: the
boundary is exercised here with routes that do, served by real uvicorn with the service's
protocol and server-log set-up, as `leadrouter run` serves the app.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sync.logs import configure_logging
from sync.service import serverlog
from sync.service.boundary import ErrorBoundary
from sync.service.metrics import Metrics
from sync.service.protocol import HttpLimits, guarded_protocol
from sync.service.serverlog import LineLimiter
from tests.service.conftest import free_port

SECRET_TEXT = "Jane Roe jane.roe@example.org 555-0100"


async def raises(request: Request) -> Response:
    raise ValueError(SECRET_TEXT)


async def raises_midway(request: Request) -> Response:
    async def body() -> Iterator[bytes]:  # type: ignore[misc]
        yield b"partial "
        raise KeyError(SECRET_TEXT)

    return StreamingResponse(body())  # type: ignore[arg-type]


@pytest.fixture
def served() -> Iterator[tuple[str, io.StringIO, Metrics]]:
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    metrics = Metrics("hubspot")
    routes = [Route("/boom", raises), Route("/midway", raises_midway),
              Route("/webhooks/salesforce/{secret}", raises, methods=["POST"])]
    app = ErrorBoundary(Starlette(routes=routes), metrics, LineLimiter(6))
    undo = serverlog.install(serverlog.LimitedServerLog())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off",
        http=guarded_protocol(HttpLimits(64, 5.0, 5.0))))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", buffer, metrics
    finally:
        server.should_exit = True
        thread.join(5)
        undo()
        structlog.reset_defaults()


def test_an_unexpected_exception_is_a_500_and_one_redacted_line(
        served: tuple[str, io.StringIO, Metrics], capfd: pytest.CaptureFixture[str]) -> None:
    url, buffer, metrics = served
    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(5):
            answer = client.get(url + "/boom")
            assert answer.status_code == 500  # Starlette's own 500, or the boundary's
            assert SECRET_TEXT not in answer.text
        hidden = client.post(url + "/webhooks/salesforce/the-path-secret-0123456789")
        assert hidden.status_code == 500
        with pytest.raises(httpx.HTTPError):  # headers were sent: the connection is cut
            client.get(url + "/midway")
        assert client.get(url + "/boom").status_code == 500  # the 7th: over the line limit
    time.sleep(0.2)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    failed = [line for line in lines if line["event"] == "http.failed"]
    # routes the service does not have are "other"; the secret path is never written out;
    # LineLimiter(6): the 7th ValueError is counted, not written
    assert [(f["error_type"], f["path"]) for f in failed] == [
        *[("ValueError", "other")] * 5, ("ValueError", "/webhooks/salesforce/{secret}"),
        ("KeyError", "other")]
    everything = buffer.getvalue() + capfd.readouterr().err
    assert "Traceback" not in everything
    assert SECRET_TEXT not in everything and "jane.roe" not in everything
    assert "the-path-secret" not in everything
    samples = {s.labels["error_type"]: s.value for family in metrics.registry.collect()
               for s in family.samples if s.name == "leadrouter_http_errors_total"}
    assert samples == {"ValueError": 7.0, "KeyError": 1.0}
    held = [s.value for family in metrics.registry.collect() for s in family.samples
            if s.name == "leadrouter_server_log_held_total"]
    assert held == [1.0]
