"""The real `leadrouter run` process against the HubSpot sandbox running in the test process."""

from __future__ import annotations

import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from tests.pipeline.conftest import config_text

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fd_limit(count: int) -> Callable[[], None]:
    """A `preexec_fn` that gives the child at most `count` open files."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))
    return apply


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


class ServiceProcess:
    """One `leadrouter run` subprocess; restartable on the same config and state file."""

    def __init__(self, box: HubSpotSandbox, folder: Path, *, poll: str = "10m",
                 apply: str = "1s", escalation: str = "1s", sla: str = "10m",
                 extra_service: str = "", extra_hubspot: str = "",
                 single_pool: bool = False) -> None:
        self.box = box
        self.folder = folder
        self.port = free_port()
        self.secret = "shh-" + secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.url}/webhooks/hubspot"
        self.config = folder / "leadrouter.toml"
        service = (f'listen = "127.0.0.1:{self.port}"\npoll_interval = "{poll}"\n'
                   f'apply_interval = "{apply}"\nescalation_interval = "{escalation}"\n'
                   f'log_format = "json"\nwebhook_max_bytes = 65536\n{extra_service}')
        self.config.write_text(config_text(
            box, folder / "state.db", sla=sla, single_pool=single_pool,
            extra_service=service,
            extra_hubspot=f'webhook_secret_env = "HUBSPOT_CLIENT_SECRET"\n{extra_hubspot}'))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.folder / f"service-{self.starts}.log"

    def start(self, *, wait: bool = True, max_fds: int | None = None,
              env: dict[str, str] | None = None) -> ServiceProcess:
        """`max_fds`: RLIMIT_NOFILE of the child (soft and hard), as `ulimit -n` would."""
        self.starts += 1
        environ = {**os.environ, "HUBSPOT_TOKEN": self.box.token,
                   "HUBSPOT_CLIENT_SECRET": self.secret, "PYTHONUNBUFFERED": "1",
                   **(env or {})}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync", "--config", str(self.config), "run"],
                cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=fd_limit(max_fds) if max_fds else None)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with http() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"service exited {self.proc.returncode}:\n"
                                         + self.log_path.read_text())
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise AssertionError("service not ready:\n" + self.log_path.read_text())

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM; seconds it took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def metrics(self) -> dict[str, float]:
        """Samples as {"name{label=value,...}": value}."""
        with http() as client:
            text = client.get(self.url + "/metrics").text
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    def healthz(self) -> tuple[int, Any]:
        with http() as client:
            response = client.get(self.url + "/healthz")
        return response.status_code, response.json()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)



@pytest.fixture
def service_factory(box: HubSpotSandbox, tmp_path: Path) -> Iterator[Any]:
    made: list[ServiceProcess] = []

    def factory(**options: Any) -> ServiceProcess:
        folder = tmp_path / f"svc{len(made)}"
        folder.mkdir()
        svc = ServiceProcess(box, folder, **options)
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        svc.close()


@pytest.fixture
def sf_box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as sandbox:
        sandbox.seed_demo()
        yield sandbox


@pytest.fixture
def sf_service(sf_box: SalesforceSandbox, tmp_path: Path) -> Iterator[Any]:
    """A factory of `leadrouter run` processes on Salesforce (tests/service/sf_service.py)."""
    from tests.service.sf_service import SalesforceService  # it imports this module

    made: list[SalesforceService] = []

    def factory(**options: Any) -> SalesforceService:
        folder = tmp_path / f"sf{len(made)}"
        folder.mkdir()
        svc = SalesforceService(sf_box, folder, **options)
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        svc.close()


def owner_of(box: HubSpotSandbox, contact_id: str) -> str | None:
    return box.contact(contact_id)["properties"].get("hubspot_owner_id") or None


def new_contact(box: HubSpotSandbox, serial: int, insurance: str = "commercial") -> str:
    """A synthetic contact (fictional name, reserved example domain)."""
    return box.create_contact({
        "firstname": "Test", "lastname": f"Person{serial}",
        "email": f"test.person.{serial}@example.com", "insurance_type": insurance,
        "state": "CA", "zip": "91101", "hs_analytics_source": "PAID_SEARCH",
        "level_of_care": "detox", "hs_lead_status": "NEW", "lifecyclestage": "lead"})


def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
