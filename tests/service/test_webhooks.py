"""Webhooks into the real `leadrouter run` process: fast owners, refusals, duplicates."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from sandbox.hubspot import HubSpotSandbox, WebhookSender, contact_creation, sign_v3
from tests.pipeline.conftest import is_write_call
from tests.service.conftest import ServiceProcess, http, new_contact, owner_of, wait_for


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_a_webhook_gets_the_owner_written_within_2s_while_polling_sleeps(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    box.subscribe_webhooks(svc.webhook_url, svc.secret, properties=(), interval=0.02)
    svc.start()
    latencies, ids = [], []
    for serial in range(40):
        started = time.monotonic()
        cid = new_contact(box, serial, "medicaid" if serial % 3 else "commercial")
        assert wait_for(lambda cid=cid: owner_of(box, cid), 5.0), cid
        latencies.append(time.monotonic() - started)
        ids.append(cid)
        time.sleep(0.02)
    assert percentile(latencies, 0.99) <= 2.0, latencies
    assert wait_for(lambda: all(len(box.tasks_for(c)) == 1 for c in ids), 5.0)

    m = svc.metrics()
    assert m["leadrouter_leads_seen_total{crm=hubspot,portal=default}"] == 40
    assert m["leadrouter_leads_routed_total{crm=hubspot,portal=default}"] == 40
    assert m["leadrouter_owners_written_total{crm=hubspot,portal=default}"] == 40
    assert m["leadrouter_time_to_owner_seconds_count{crm=hubspot,portal=default}"] == 40
    assert m["leadrouter_webhook_events_total{result=new,source=hubspot}"] == 40
    polls = sum(v for k, v in m.items()
                if k.startswith("leadrouter_job_runs_total{") and "poll" in k.split("job=")[1])
    assert polls == 1  # only the first poll: every owner came from a webhook
    status, health = svc.healthz()
    assert status == 200 and health["status"] == "ok"
    assert svc.stop() < 10 and svc.proc is not None and svc.proc.returncode == 0


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    with http() as client:
        return client.post(url, content=body, headers=headers).status_code


def _signed(svc: ServiceProcess, body: bytes, ts: int | None = None) -> dict[str, str]:
    ts = ts if ts is not None else int(time.time() * 1000)
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(ts),
            "X-HubSpot-Signature-v3": sign_v3(svc.secret, "POST", svc.webhook_url, body, ts)}


def test_refused_deliveries_write_nothing_and_replays_make_one_task_each(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    svc.start()
    ids = [new_contact(box, serial) for serial in range(3)]
    events = [contact_creation(cid) for cid in ids]
    sender = WebhookSender(svc.webhook_url, svc.secret)
    box.clear_log()

    now = int(time.time() * 1000)
    assert sender.post(events, bad_signature=True).status == 401
    assert sender.post(events, stale=True).status == 401
    assert sender.post(events, timestamp_ms=now + 6 * 60 * 1000).status == 401
    unsigned = json.dumps(events).encode()
    assert _post(svc.webhook_url, unsigned, {"Content-Type": "application/json"}) == 401
    # signed for another URL (a proxy rewrote it, or a replay aimed elsewhere)
    other = WebhookSender(svc.url + "/elsewhere", svc.secret).signed_request(events)
    assert _post(svc.webhook_url, *other) == 401
    for body in (b"not json at all", b'{"objectId": 1}', b"[1, 2]",
                 json.dumps([{"objectId": ids[0], "subscriptionType": "contact.creation"}])
                 .encode()):
        assert _post(svc.webhook_url, body, _signed(svc, body)) == 400, body
    big = b"[" + b" " * 70_000 + b"]"
    assert _post(svc.webhook_url, big, _signed(svc, big)) == 413
    with http() as client:  # chunked, no Content-Length: cut off at the cap as well
        chunks = (b" " * 8192 for _ in range(12))
        response = client.post(svc.webhook_url, content=chunks, headers=_signed(svc, b""))
        assert response.status_code == 413

    time.sleep(1.5)
    assert [owner_of(box, cid) for cid in ids] == [None, None, None]
    assert [r for r in box.request_log if is_write_call(r.method, r.path)] == []
    m = svc.metrics()
    outcomes = {key: value for key, value in m.items()
                if key.startswith("leadrouter_webhook_requests_total")}
    assert outcomes == {
        "leadrouter_webhook_requests_total{outcome=bad_signature,source=hubspot}": 2,
        "leadrouter_webhook_requests_total{outcome=stale,source=hubspot}": 1,
        "leadrouter_webhook_requests_total{outcome=future,source=hubspot}": 1,
        "leadrouter_webhook_requests_total{outcome=unsigned,source=hubspot}": 1,
        "leadrouter_webhook_requests_total{outcome=bad_json,source=hubspot}": 1,
        "leadrouter_webhook_requests_total{outcome=bad_shape,source=hubspot}": 3,
        "leadrouter_webhook_requests_total{outcome=too_large,source=hubspot}": 2,
    }

    # the same batch three times (HubSpot retries; eventIds repeat or change)
    for attempt in range(3):
        batch = [{**e, "attemptNumber": attempt, "eventId": e["eventId"] + attempt}
                 for e in events]
        assert sender.post(batch).status == 200
    assert wait_for(lambda: all(owner_of(box, c) for c in ids), 5.0)
    assert wait_for(lambda: all(len(box.tasks_for(c)) == 1 for c in ids), 5.0)
    time.sleep(1.0)
    assert [len(box.tasks_for(c)) for c in ids] == [1, 1, 1]
    m = svc.metrics()
    assert m["leadrouter_webhook_events_total{result=new,source=hubspot}"] == 3
    assert m["leadrouter_webhook_events_total{result=duplicate,source=hubspot}"] == 6
    assert m["leadrouter_webhook_requests_total{outcome=accepted,source=hubspot}"] == 3
    assert m["leadrouter_leads_routed_total{crm=hubspot,portal=default}"] == 3


def test_property_changes_are_acknowledged_and_ignored(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m")
    svc.start()
    cid = new_contact(box, 1)
    sender = WebhookSender(svc.webhook_url, svc.secret)
    from sandbox.hubspot import property_change

    delivery = sender.post([property_change(cid, "hs_lead_status", "OPEN")])
    assert delivery.status == 200
    assert json.loads(delivery.response) == {"stored": 0, "duplicates": 0, "ignored": 1}
    time.sleep(0.5)
    assert owner_of(box, cid) is None
    log = svc.log_path.read_text()
    assert "OPEN" not in log and "Person1" not in log and "example.com" not in log


def test_public_url_is_the_signed_uri_behind_a_proxy(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    public = "https://leads.sunrise-recovery.example/hooks"
    svc = service_factory(poll="10m", extra_service=f'public_url = "{public}/"')
    svc.start()
    cid = new_contact(box, 1)
    # HubSpot calls https://leads.../hooks/webhooks/hubspot; the proxy forwards it to the
    # service's /webhooks/hubspot. The signature covers the public URL.
    local = WebhookSender(svc.webhook_url, svc.secret).signed_request([contact_creation(cid)])
    assert _post(svc.webhook_url, *local) == 401
    public_req = WebhookSender(public + "/webhooks/hubspot", svc.secret).signed_request(
        [contact_creation(cid)])
    assert _post(svc.webhook_url, *public_req) == 200
    assert wait_for(lambda: owner_of(box, cid), 5.0)
