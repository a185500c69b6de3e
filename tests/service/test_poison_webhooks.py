"""Poison contacts delivered by signed webhooks to the real service: the normal ones are
routed in one run, the poison ones too (their values kept as "(other)"), no traceback."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.hubspot import HubSpotSandbox
from tests.service.conftest import ServiceProcess, new_contact, owner_of, wait_for

POISON = {"long": "x" * 300, "nul": "commercial\x00; drop", "huge": "y" * 100_000}


def test_poison_contacts_by_signed_webhooks_block_nothing_and_leak_nothing(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    box.subscribe_webhooks(svc.webhook_url, svc.secret, properties=(), interval=0.05)
    svc.start()
    poison = [box.create_contact({"insurance_type": value, "hs_analytics_source": value,
                                  "state": value, "zip": "91101"})
              for value in POISON.values()]
    normal = [new_contact(box, serial) for serial in range(20)]
    assert wait_for(lambda: all(owner_of(box, cid) for cid in normal + poison), 10.0)
    assert wait_for(lambda: all(len(box.tasks_for(cid)) == 1 for cid in normal + poison), 10.0)
    svc.stop()
    log = svc.log_path.read_text()
    assert "Traceback" not in log
    assert "xxxxxxxxxx" not in log and "yyyyyyyyyy" not in log and "drop" not in log
    assert "Person" not in log and "example.com" not in log
