"""Availability while `leadrouter run` runs: `away`/`back` from the command line beside the
running service (which holds the SQLite writer lock), and HubSpot's availability status read
on `availability_interval`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from tests.service.conftest import ServiceProcess

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004"}
MARIA, LI = "1001", "1002"  # "commercial": round robin over maria, li, devon, aisha, carlos


def leadrouter(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def routed(box: HubSpotSandbox, count: int, timeout: float = 30.0) -> Counter[str]:
    """Create `count` commercial contacts and wait until each has an owner."""
    ids = [box.create_contact(dict(PROPS)) for _ in range(count)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owners = [box.contact(i)["properties"].get("hubspot_owner_id") for i in ids]
        if all(owners):
            return Counter(str(o) for o in owners)
        time.sleep(0.1)
    raise AssertionError("leads not routed in time")


def test_away_and_back_reach_the_running_service(tmp_path: Path) -> None:
    with HubSpotSandbox() as box:
        box.seed_demo()
        box.set_availability(LI, "away")
        service = ServiceProcess(box, tmp_path, poll="1s",
                                 extra_service='availability_interval = "1s"\n',
                                 extra_hubspot="availability = true")
        try:
            service.start()
            done = leadrouter(service.config, "away", "maria", "--until", "2h")
            assert done.returncode == 0, done.stderr
            owners = routed(box, 9)
            assert owners[MARIA] == owners[LI] == 0 and sum(owners.values()) == 9

            assert leadrouter(service.config, "back", "maria").returncode == 0
            box.set_availability(LI, "available")
            time.sleep(2.5)  # more than one availability_interval
            owners = routed(box, 9)
            assert owners[MARIA] > 0 and owners[LI] > 0
            assert service.stop() < 10
        finally:
            service.close()
