"""The real `leadrouter run` process on Salesforce, against the Salesforce sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sandbox.salesforce import SalesforceSandbox
from tests.pipeline.conftest import sf_config_text
from tests.service.conftest import REPO, free_port


class SalesforceService:
    """One `leadrouter run` subprocess with Outbound Messages on (`organization_id` set)."""

    def __init__(self, box: SalesforceSandbox, folder: Path, *, extra_service: str = "",
                 extra_salesforce: str = "", scheme: str = "http") -> None:
        self.box = box
        self.folder = folder
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.url}/webhooks/salesforce"
        service = (f'listen = "127.0.0.1:{self.port}"\npoll_interval = "10m"\n'
                   'apply_interval = "1s"\nescalation_interval = "1m"\nlog_format = "json"\n'
                   f"{extra_service}")
        text = sf_config_text(box, folder / "state.db", extra_salesforce=(
            f'organization_id = "{box.organization_id}"\n{extra_salesforce}'))
        self.config = folder / "leadrouter.toml"
        self.config.write_text(text.replace("[service]\n", f"[service]\n{service}", 1))
        self.log_path = folder / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None, **client: Any) -> SalesforceService:
        environ = {**os.environ, "SALESFORCE_ACCESS_TOKEN": self.box.token,
                   "PYTHONUNBUFFERED": "1", **(env or {})}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync", "--config", str(self.config), "run"],
                cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        with self.client(**client) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"service exited {self.proc.returncode}:\n"
                                         + self.log_path.read_text())
                try:
                    if http.get(self.url + "/healthz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise AssertionError("service not ready:\n" + self.log_path.read_text())

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(trust_env=False, timeout=10, **options)

    def post(self, body: bytes, *, path: str = "/webhooks/salesforce",
             headers: dict[str, Any] | None = None, **client: Any) -> httpx.Response:
        with self.client(**client) as http:
            return http.post(self.url + path, content=body,
                             headers={"Content-Type": "text/xml; charset=utf-8",
                                      **(headers or {})})

    def metrics(self, **client: Any) -> dict[str, float]:
        with self.client(**client) as http:
            text = http.get(self.url + "/metrics").text
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    def inbox_ids(self) -> list[str]:
        """Record ids in the webhook inbox, read from the state file itself."""
        import sqlite3

        with sqlite3.connect(self.folder / "state.db") as db:
            return sorted(row[0] for row in db.execute("SELECT crm_id FROM inbox"))

    def stop(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
