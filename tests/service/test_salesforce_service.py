"""`leadrouter run` on Salesforce: Outbound Messages from the Salesforce sandbox bring leads
in at once (polling every 10 minutes), duplicates are harmless, a foreign org is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.salesforce import SalesforceSandbox
from tests.pipeline.conftest import sf_config_text
from tests.service.conftest import REPO, free_port, wait_for


@pytest.fixture
def sf_box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as sandbox:
        sandbox.seed_demo()
        yield sandbox


def test_outbound_messages_get_owners_written_fast_and_once(sf_box: SalesforceSandbox,
                                                             tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = (f'listen = "127.0.0.1:{port}"\npoll_interval = "10m"\napply_interval = "1s"\n'
               'escalation_interval = "1m"\nlog_format = "json"\n')
    text = sf_config_text(sf_box, tmp_path / "state.db",
                          extra_salesforce=f'organization_id = "{sf_box.organization_id}"')
    text = text.replace("[service]\n", f"[service]\n{service}", 1)
    config = tmp_path / "leadrouter.toml"
    config.write_text(text)
    intake = sf_box.user_id("intake")
    env = {**os.environ, "SALESFORCE_ACCESS_TOKEN": sf_box.token}
    log = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "sync", "--config", str(config), "run"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(trust_env=False) as client:
            assert wait_for(lambda: _ok(client, url), 20, interval=0.1), \
                (tmp_path / "service.log").read_text()
        sf_box.enable_outbound(f"{url}/webhooks/salesforce", duplicates=1)
        latencies, ids = [], []
        for serial in range(10):
            started = time.monotonic()
            lead = sf_box.create_lead(LastName=f"Sample{serial}", Insurance_Type__c="commercial",
                                      State="CA", PostalCode="91101")
            assert wait_for(lambda lead=lead: sf_box.get(lead)["OwnerId"] != intake
                            and not str(sf_box.get(lead)["OwnerId"]).startswith("00G"), 5.0)
            latencies.append(time.monotonic() - started)
            ids.append(lead)
        assert max(latencies) < 3.0, latencies
        assert sf_box.flush_outbound(10)
        time.sleep(1.5)  # duplicates delivered: still one task each
        tasks = [t for t in sf_box.records("Task") if t.get("WhoId") in ids]
        assert sorted(t["WhoId"] for t in tasks) == sorted(ids)
        assert all(d.acked for d in sf_box.outbound.deliveries)

        foreign = sf_box.outbound.build([("04l000000000001AAA", "Lead",
                                          {"Id": ids[0]})]).replace(
            sf_box.organization_id.encode(), b"00D000000000001AAA")
        with httpx.Client(trust_env=False) as client:
            answer = client.post(f"{url}/webhooks/salesforce", content=foreign,
                                 headers={"Content-Type": "text/xml"})
        assert answer.status_code == 403 and b"<Ack>true</Ack>" not in answer.content
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    assert proc.returncode == 0


def _ok(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/healthz").status_code == 200
    except httpx.HTTPError:
        return False
