"""Start-up problems, /healthz, and the SLA counters of /metrics on the real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from sandbox.hubspot import HubSpotSandbox
from tests.service.conftest import REPO, ServiceProcess, new_contact, owner_of, wait_for


def _run(svc: ServiceProcess, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUBSPOT_TOKEN": token, "HUBSPOT_CLIENT_SECRET": svc.secret}
    return subprocess.run([sys.executable, "-m", "sync", "--config", str(svc.config), "run"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_a_credential_or_listen_problem_at_start_exits_1_with_the_reason(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory()
    refused = _run(svc, "pat-na1-wrong")
    assert refused.returncode == 1
    assert "credentials" in refused.stderr and "Traceback" not in refused.stderr
    assert "pat-na1-wrong" not in refused.stderr + refused.stdout

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", svc.port))
        taken.listen()
        busy = _run(svc, box.token)
    assert busy.returncode == 1
    assert f"cannot listen on 127.0.0.1:{svc.port}" in busy.stderr
    assert "Traceback" not in busy.stderr


def test_healthz_reports_polling_and_the_crm_error_type_only(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="1s")
    svc.start()
    status, body = svc.healthz()
    assert status == 200 and body["status"] == "ok"
    assert body["store"]["ok"] is True and body["last_poll"]["age_s"] < 5
    assert body["crm_last_error"] is None

    box.app.token = "rotated"  # the private-app token was revoked: a person must act
    assert wait_for(lambda: svc.healthz()[0] == 503, 10, interval=0.2)
    status, body = svc.healthz()
    assert body["status"] == "unhealthy" and body["crm_auth_failed"] is True
    assert body["crm_last_error"]["type"] == "AuthError"
    assert body["crm_last_error"]["status"] == 401
    assert set(body["crm_last_error"]) == {"type", "status", "job", "at"}

    box.app.token = box.token  # fixed: the next successful poll clears it
    assert wait_for(lambda: svc.healthz()[0] == 200, 10, interval=0.2)
    assert svc.stop() < 10


def test_metrics_count_contacts_breaches_and_escalations(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(sla="3s", escalation="500ms", single_pool=True)
    box.subscribe_webhooks(svc.webhook_url, svc.secret, properties=(), interval=0.02)
    svc.start()
    called, ignored = new_contact(box, 1), [new_contact(box, 2), new_contact(box, 3)]
    assert wait_for(lambda: all(owner_of(box, c) for c in [called, *ignored]), 5)
    first = {c: owner_of(box, c) for c in ignored}
    box.log_call(called, owner_id=owner_of(box, called))
    # each ignored lead breaches and goes to someone else
    assert wait_for(lambda: all(owner_of(box, c) != first[c] for c in ignored), 10,
                    interval=0.1)
    assert wait_for(lambda: svc.metrics().get(
        "leadrouter_contact_attempts_total{crm=hubspot,portal=default,within_sla=true}") == 1, 5)
    m = svc.metrics()
    assert m["leadrouter_leads_routed_total{crm=hubspot,portal=default}"] == 3
    assert m["leadrouter_sla_breaches_total{crm=hubspot,portal=default}"] >= 2
    assert m["leadrouter_escalations_total{crm=hubspot,kind=reassigned,portal=default}"] >= 2
    assert m["leadrouter_escalations_total{crm=hubspot,kind=reassigned,portal=default}"] + \
        m["leadrouter_escalations_total{crm=hubspot,kind=final,portal=default}"] == \
        m["leadrouter_sla_breaches_total{crm=hubspot,portal=default}"]
    assert m["leadrouter_contact_attempts_total{crm=hubspot,portal=default,within_sla=false}"] == 0
    assert m["leadrouter_tasks_created_total{crm=hubspot,portal=default}"] == \
        sum(len(box.tasks_for(c)) for c in [called, *ignored])
    open_leads = sum(v for k, v in m.items() if k.startswith("leadrouter_open_leads{"))
    assert open_leads == 2  # the called lead is closed, the two others are open again
    calls = {k: v for k, v in m.items() if k.startswith("leadrouter_crm_api_calls_total")}
    assert calls["leadrouter_crm_api_calls_total"
                 "{crm=hubspot,endpoint=contacts.batch_update,portal=default}"]
    assert all(v == 0 for k, v in m.items()
               if k.startswith("leadrouter_crm_api_throttled_total"))
    time.sleep(0.1)
    assert svc.stop() < 10


def test_public_url_must_be_a_base_url() -> None:
    from sync.config import ConfigError, parse_config

    text = (REPO / "config.example.toml").read_text().replace(
        'listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:8080"\npublic_url = "ftp://x/?a=1"')
    try:
        parse_config(text)
    except ConfigError as exc:
        assert any("service.public_url" in line for line in exc.problems), exc.problems
    else:
        raise AssertionError("public_url accepted")
