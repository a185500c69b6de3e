"""What stands between an outsider and the inbox, through the real `leadrouter run` process:
record id checks, per-request and per-minute caps, and the defences an admin can turn on
(a secret in the Salesforce URL path, an allow-list of source networks, client certificates).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from sandbox.hubspot import HubSpotSandbox, WebhookSender, contact_creation
from sandbox.salesforce import SalesforceSandbox
from tests.service.conftest import ServiceProcess
from tests.service.sf_service import SalesforceService

SECRET = "s3cr3t-" + "x" * 24


def _message(box: SalesforceSandbox, record_ids: list[str]) -> bytes:
    return box.outbound.build([(box.outbound.new_notification_id(), "Lead", {"Id": rid})
                               for rid in record_ids])


def _leads(box: SalesforceSandbox, count: int) -> list[str]:
    return [box.create_lead(LastName=f"Sample{i}", Insurance_Type__c="commercial")
            for i in range(count)]


def _outcomes(metrics: dict[str, float], source: str) -> dict[str, float]:
    prefix = "leadrouter_webhook_requests_total{outcome="
    return {key[len(prefix):].split(",")[0]: value for key, value in metrics.items()
            if key.startswith(prefix) and f"source={source}" in key}


def _flip(record_id: str) -> str:
    """The same id with a checksum that does not match."""
    return record_id[:15] + ("AAA" if record_id[15:] != "AAA" else "BAA")


def test_invalid_record_ids_are_dropped_and_counted(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService]) -> None:
    svc = sf_service().start()
    good, other = _leads(sf_box, 2)
    mixed = _message(sf_box, [good, _flip(other), other[:15]])
    answer = svc.post(mixed)
    assert answer.status_code == 200 and "<Ack>true</Ack>" in answer.text
    assert svc.inbox_ids() == sorted([good, other])  # the 15-character id stored as 18
    only_bad = _message(sf_box, [_flip(good)])
    assert svc.post(only_bad).status_code == 400
    assert svc.inbox_ids() == sorted([good, other])
    m = svc.metrics()
    assert m["leadrouter_webhook_events_total{result=invalid_id,source=salesforce}"] == 2
    assert _outcomes(m, "salesforce") == {"accepted": 1, "bad_id": 1}


def test_events_per_minute_are_capped_per_source_with_429(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService]) -> None:
    svc = sf_service(extra_service="webhook_rate = 5\n").start()
    leads = _leads(sf_box, 8)
    assert svc.post(_message(sf_box, leads[:3])).status_code == 200
    refused = svc.post(_message(sf_box, leads[3:6]))  # 3 more than the 2 left this minute
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert svc.post(_message(sf_box, leads[3:5])).status_code == 200
    assert svc.inbox_ids() == sorted(leads[:5])
    m = svc.metrics()
    assert _outcomes(m, "salesforce") == {"accepted": 2, "rate_limited": 1}
    assert m["leadrouter_webhook_events_total{result=rate_limited,source=salesforce}"] == 3


def test_hubspot_events_per_minute_are_capped_too(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m", extra_service="webhook_rate = 4\n")
    svc.start()
    ids = [box.create_contact({"firstname": "Test", "lastname": f"P{i}"}) for i in range(6)]
    sender = WebhookSender(svc.webhook_url, svc.secret)
    assert sender.post([contact_creation(c) for c in ids[:3]]).status == 200
    limited = sender.post([contact_creation(c) for c in ids[3:5]])
    assert limited.status == 429
    m = svc.metrics()
    assert _outcomes(m, "hubspot") == {"accepted": 1, "rate_limited": 1}


def test_a_secret_in_the_path_hides_the_plain_endpoint(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService]) -> None:
    svc = sf_service(extra_salesforce='outbound_path_secret_env = "SF_OUTBOUND_SECRET"\n')
    svc.start(env={"SF_OUTBOUND_SECRET": SECRET})
    (lead,) = _leads(sf_box, 1)
    body = _message(sf_box, [lead])
    assert svc.post(body).status_code == 404
    assert svc.post(body, path="/webhooks/salesforce/" + SECRET[:-1] + "y").status_code == 404
    assert svc.post(body, path="/webhooks/salesforce/" + SECRET + "/x").status_code == 404
    assert svc.inbox_ids() == []
    assert svc.post(body, path="/webhooks/salesforce/" + SECRET).status_code == 200
    assert svc.inbox_ids() == [lead]
    assert SECRET not in svc.log_path.read_text()


def test_a_path_secret_variable_that_is_not_set_stops_the_start(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService]) -> None:
    svc = sf_service(extra_salesforce='outbound_path_secret_env = "SF_OUTBOUND_SECRET"\n')
    with pytest.raises(AssertionError, match="SF_OUTBOUND_SECRET"):
        svc.start(env={"SF_OUTBOUND_SECRET": ""})
    assert svc.proc is not None and svc.proc.returncode == 1
    assert "Traceback" not in svc.log_path.read_text()


def test_the_allow_list_refuses_other_networks_and_trusts_only_known_proxies(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService]) -> None:
    direct = sf_service(extra_service='webhook_allow = ["13.108.0.0/14"]\n'
                                      "trusted_proxies = []\n").start()
    (lead,) = _leads(sf_box, 1)
    body = _message(sf_box, [lead])
    # 127.0.0.1 is not in the list, and a forwarded address from an untrusted peer is ignored
    assert direct.post(body).status_code == 403
    assert direct.post(body, headers={"X-Forwarded-For": "13.108.1.1"}).status_code == 403
    with direct.client() as client:  # the other endpoints are not behind the list
        assert client.get(direct.url + "/healthz").status_code == 200
    assert direct.inbox_ids() == []
    assert _outcomes(direct.metrics(), "salesforce") == {"not_allowed": 2}

    proxied = sf_service(extra_service='webhook_allow = ["13.108.0.0/14", "2001:db8::/32"]\n'
                                       'trusted_proxies = ["127.0.0.1/32"]\n').start()
    refused = ["8.8.8.8", "13.108.1.1, 8.8.8.8", "not-an-address", "", "13.108.1.1, ²"]
    for forwarded in refused:
        answer = proxied.post(body, headers={"X-Forwarded-For": forwarded.encode("latin-1")})
        assert answer.status_code == 403, forwarded
    assert proxied.post(body).status_code == 403  # no header: the proxy itself is the peer
    assert proxied.inbox_ids() == []
    for forwarded in ("13.108.1.1", "8.8.8.8, 13.108.1.1", "2001:db8::5"):
        answer = proxied.post(body, headers={"X-Forwarded-For": forwarded})
        assert answer.status_code == 200, forwarded
    assert proxied.inbox_ids() == [lead]


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    """A server certificate for 127.0.0.1, a client CA with one client certificate (as
    Salesforce's), and a stranger's CA with its own client certificate."""
    server_ca, client_ca, stranger_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server = server_ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_bytes(b"".join(p.bytes() for p in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(key))
    client_ca_file = tmp_path / "client-ca.pem"
    client_ca.cert_pem.write_to_path(str(client_ca_file))

    def context(issuer: trustme.CA | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        server_ca.configure_trust(ctx)
        if issuer is not None:
            issuer.issue_cert("client@salesforce.example").configure_cert(ctx)
        return ctx

    return {"cert": cert, "key": key, "client_ca": client_ca_file,
            "salesforce": context(client_ca), "anonymous": context(None),
            "stranger": context(stranger_ca)}


def test_client_certificates_are_required_on_the_salesforce_endpoint(
        sf_box: SalesforceSandbox, sf_service: Callable[..., SalesforceService],
        pki: dict[str, Any]) -> None:
    svc = sf_service(scheme="https",
                     extra_service=f'tls_cert = "{pki["cert"]}"\ntls_key = "{pki["key"]}"\n',
                     extra_salesforce=f'outbound_client_ca = "{pki["client_ca"]}"\n')
    svc.start(verify=pki["anonymous"])
    (lead,) = _leads(sf_box, 1)
    body = _message(sf_box, [lead])
    # without a certificate: the health check works, the webhook does not
    assert svc.post(body, verify=pki["anonymous"]).status_code == 403
    with svc.client(verify=pki["anonymous"]) as client:
        assert client.get(svc.url + "/healthz").status_code == 200
    # a certificate from another CA does not get through the handshake
    with pytest.raises(httpx.HTTPError):
        svc.post(body, verify=pki["stranger"])
    assert svc.inbox_ids() == []
    assert svc.post(body, verify=pki["salesforce"]).status_code == 200
    assert svc.inbox_ids() == [lead]
    time.sleep(0.2)
    log = svc.log_path.read_text()
    assert "Traceback" not in log
    outcomes = _outcomes(svc.metrics(verify=pki["anonymous"]), "salesforce")
    assert outcomes == {"accepted": 1, "no_client_cert": 1}
    assert svc.stop() == 0
    assert json.loads(log.splitlines()[0])["listen"].startswith("https://")
