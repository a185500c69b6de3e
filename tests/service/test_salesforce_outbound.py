"""`POST /webhooks/salesforce` (Outbound Messages) on the real app and a real SQLite store.

The app runs in-process under uvicorn on a loopback port; the store and the
HubSpot-sandbox-backed context are real. Salesforce's own connector is not needed: the
endpoint only stores hints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from connectors.salesforce.webhooks import OutboundMessages
from sandbox.hubspot import HubSpotSandbox
from sync.config import parse_config
from sync.context import Context, build_context
from sync.service.app import Runtime, create_app
from sync.service.metrics import Metrics
from sync.service.worker import Job, Worker
from tests.pipeline.conftest import config_text
from tests.service.conftest import free_port

ORG = "00D5g000004ABCDEAZ"
OTHER_ORG = "00D5g000009ZZZZEAZ"


def message(org: str, records: list[tuple[str, str]]) -> bytes:
    notes = "".join(
        f'<Notification><Id>{nid}</Id><sObject xsi:type="sf:Lead" '
        f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{rid}</sf:Id>'
        "<sf:OwnerId>00G5g000001QUEUEAA</sf:OwnerId><sf:LastName>Private</sf:LastName>"
        "</sObject></Notification>" for nid, rid in records)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5g000000ACTNAAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"{notes}</notifications></soapenv:Body></soapenv:Envelope>").encode()


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    with HubSpotSandbox() as box:
        box.seed_demo()
        config = parse_config(config_text(box, tmp_path / "state.db"))
        context = build_context(config, environ={"HUBSPOT_TOKEN": box.token})
        yield context
        context.close()


class Client:
    """The app served by uvicorn in a thread; `post` returns the httpx response."""

    def __init__(self, runtime: Runtime) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1",
                                                    port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", trust_env=False)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.post(path, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def serve(ctx: Context) -> Iterator[object]:
    made: list[Client] = []

    def factory(org: str = ORG) -> tuple[Client, Worker, Metrics]:
        metrics = Metrics(ctx.crm)
        worker = Worker(ctx, metrics)  # not started: requests just queue
        ctx.wake = lambda: worker.request(Job.INBOX)
        sources = (OutboundMessages(org),) if org else ()
        client = Client(Runtime(ctx, metrics, worker, "", 4096, sources=sources))
        made.append(client)
        return client, worker, metrics

    yield factory
    for client in made:
        client.close()


def inbox(ctx: Context) -> list[tuple[str, str]]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return sorted((r.source, r.crm_id) for r in uow.inbox.unprocessed(100))


def test_notifications_are_stored_once_and_acked(ctx: Context, serve: Any) -> None:
    client, worker, _ = serve()
    body = message(ORG, [("04l5g000000NOT1AAO", "00Q5g00001LEAD1EAP"),
                         ("04l5g000000NOT2AAO", "00Q5g00001LEAD2EAP")])
    for _ in range(3):  # at-least-once delivery: retries are harmless
        response = client.post("/webhooks/salesforce", content=body,
                               headers={"Content-Type": "text/xml; charset=utf-8"})
        assert response.status_code == 200
        assert "<Ack>true</Ack>" in response.text
    assert inbox(ctx) == [("salesforce", "00Q5g00001LEAD1EAP"),
                          ("salesforce", "00Q5g00001LEAD2EAP")]
    assert not worker.idle()  # the pipeline was woken


def test_a_15_character_org_id_matches_its_18_character_form(serve: Any) -> None:
    client, _, _ = serve(org=ORG[:15])
    body = message(ORG, [("04l5g000000NOT1AAO", "00Q5g00001LEAD1EAP")])
    assert client.post("/webhooks/salesforce", content=body).status_code == 200


def test_refusals_store_nothing(ctx: Context, serve: Any) -> None:
    client, _, metrics = serve()
    wrong = message(OTHER_ORG, [("04l5g000000NOT1AAO", "00Q5g00001LEAD1EAP")])
    assert client.post("/webhooks/salesforce", content=wrong).status_code == 403
    assert client.post("/webhooks/salesforce", content=b"<not-xml").status_code == 400
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    assert client.post("/webhooks/salesforce", content=bomb).status_code == 400
    no_notes = message(ORG, [])
    assert client.post("/webhooks/salesforce", content=no_notes).status_code == 400
    bad_id = message(ORG, [("04l5g000000NOT1AAO", "not-an-id")])  # dropped: none left
    assert client.post("/webhooks/salesforce", content=bad_id).status_code == 400
    big = message(ORG, [(f"04l5g0000000{i:03d}AAA", f"00Q5g0000001{i:03d}AA")
                        for i in range(40)])
    assert len(big) > 4096
    assert client.post("/webhooks/salesforce", content=big).status_code == 413
    assert inbox(ctx) == []
    outcomes = {sample.labels["outcome"]: sample.value
                for family in text_string_to_metric_families(metrics.render().decode())
                for sample in family.samples
                if sample.name == "leadrouter_webhook_requests_total"}
    assert outcomes == {"wrong_org": 1, "bad_xml": 2, "bad_shape": 1, "bad_id": 1,
                        "too_large": 1}


def test_off_when_no_organization_is_configured(ctx: Context, serve: Any) -> None:
    client, _, _ = serve(org="")
    body = message(ORG, [("04l5g000000NOT1AAO", "00Q5g00001LEAD1EAP")])
    assert client.post("/webhooks/salesforce", content=body).status_code == 404
    assert inbox(ctx) == []
