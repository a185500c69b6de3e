"""Webhooks reach their portal: one `leadrouter run` process serving two HubSpot portals
(`[service] portals`), events matched by `portalId` to `[crm.hubspot] portal_id`.

Real process, real PostgreSQL, one HubSpot sandbox per portal; polling is far off, so only
the webhooks can route these contacts.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sandbox.hubspot import WebhookSender, contact_creation
from tests.conftest import PgServer
from tests.scale.deployment import Deployment, facts

SECRET = "portal-webhook-secret-0123456789"
PROPERTIES = {"firstname": "Test", "lastname": "Person", "email": "test.person@example.com",
              "insurance_type": "medicaid", "state": "CA", "zip": "91101",
              "hs_analytics_source": "PAID_SEARCH", "level_of_care": "detox",
              "hs_lead_status": "NEW", "lifecyclestage": "lead"}


def _metrics(url: str) -> dict[str, float]:
    with httpx.Client(trust_env=False, timeout=5) as client:
        text = client.get(url + "/metrics").text
    return {f"{s.name}{{{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}}}":
            s.value for family in text_string_to_metric_families(text)
            for s in family.samples}


def test_each_portals_webhook_events_route_in_that_portal_only(
        tmp_path: Path, pg_server: PgServer) -> None:
    with Deployment(tmp_path, pg_server.new_database(), ["east", "west"],
                    poll_interval="1d", webhook_secret=SECRET) as dep:
        worker = dep.add_workers(1)[0]
        worker.start()
        deadline = time.monotonic() + 60
        while not dep.healthy(worker):  # every portal polled once (nothing there yet)
            assert worker.alive() and time.monotonic() < deadline, worker.logs()[-3000:]
            time.sleep(0.2)
        east = dep.boxes["east"].create_contact(PROPERTIES)
        west = dep.boxes["west"].create_contact(PROPERTIES)
        dep.leads = {"east": [east], "west": [west]}
        sender = WebhookSender(worker.url + "/webhooks/hubspot", SECRET)
        # one delivery, events of both accounts and of one no portal is
        [mixed] = sender.send([contact_creation(int(east), portal_id=dep.hub_id("east")),
                               contact_creation(int(west), portal_id=dep.hub_id("west")),
                               contact_creation(int(west), portal_id=9999)])
        assert mixed.status == 200, mixed
        [stranger] = sender.send([contact_creation(int(east), portal_id=9999)])
        assert stranger.status == 403  # no portal is that account: HubSpot retries later
        assert dep.wait_all_tasked(60), worker.logs()[-3000:]
        for portal, own in (("east", east), ("west", west)):
            seen = facts(dep, portal)
            assert list(seen.rows) == [own]  # its own lead, nothing of the other portal
            assert seen.tasks == {own: 1} and seen.foreign_tasks == 0
            assert seen.owners[own] is not None
        figures = _metrics(worker.url)
        assert figures["leadrouter_webhook_events_total{result=unknown_portal,source=hubspot}"] \
            == 2
        for portal in ("east", "west"):
            assert figures[f"leadrouter_tasks_created_total{{crm=hubspot,portal={portal}}}"] == 1
        with httpx.Client(trust_env=False, timeout=5) as client:
            health = client.get(worker.url + "/healthz").json()
            # the dashboard: each portal's report by ?portal=, never the two mixed
            reports = {p: client.get(worker.url + "/api/report", params={"portal": p})
                       for p in ("east", "west", "nowhere")}
            default = client.get(worker.url + "/api/report").json()
            page = client.get(worker.url + "/", params={"portal": "west", "window": "7d"})
        assert set(health["portals"]) == {"east", "west"}
        assert [reports[p].json()["leads"]["arrived"] for p in ("east", "west")] == [1, 1]
        assert reports["nowhere"].status_code == 404
        assert reports["nowhere"].json()["portals"] == ["east", "west"]
        assert default["leads"]["arrived"] == 1  # the first portal's
        assert page.status_code == 200
        assert 'data-portal="east"' in page.text and 'data-portal="west"' in page.text
        assert 'data-portal="west" aria-current="page"' in page.text
        assert 'href="?window=24h&amp;portal=west"' in page.text  # the window keeps the portal
        logs = worker.logs()
        assert "Person" not in logs and "example.com" not in logs  # no contact details
