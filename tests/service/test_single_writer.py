"""Two processes on one SQLite state file: the second is refused at start, clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from sandbox.hubspot import HubSpotSandbox
from tests.service.conftest import REPO, free_port


def test_a_second_process_on_the_same_sqlite_file_exits_1_saying_why(
        box: HubSpotSandbox, service_factory: Any) -> None:
    service = service_factory().start()
    env = {**os.environ, "HUBSPOT_TOKEN": box.token, "HUBSPOT_CLIENT_SECRET": service.secret}
    other_port = service.config.with_name("other-port.toml")  # same state file, free port
    other_port.write_text(service.config.read_text().replace(
        f"127.0.0.1:{service.port}", f"127.0.0.1:{free_port()}"))
    for config, command in ((service.config, ["sync", "--once"]), (other_port, ["run"])):
        second = subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(config), *command],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 1, command
        assert "another leadrouter process (pid " in second.stderr
        assert "PostgreSQL" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
    status, _ = service.healthz()
    assert status == 200  # the first one is untouched
    service.stop()
    after = subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(service.config), "sync", "--once"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert after.returncode == 0, after.stderr
