"""Fault injection on the Salesforce emulator, seen through simple-salesforce."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError

from sandbox._server import Faults
from sandbox.salesforce import SalesforceSandbox

pytest_plugins = ["tests.sandbox.conftest_salesforce"]  # fixtures: sf_box, sf, ...

if TYPE_CHECKING:
    from tests.sandbox.conftest_salesforce import Client, LogWait

NO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}


def test_server_errors_apply_nothing(sf_box: SalesforceSandbox, sf: Client,
                                     sf_wait_log: LogWait) -> None:
    sf_box.faults = Faults(error_rate=1.0, seed=1)
    statuses = set()
    for _ in range(12):
        with pytest.raises(SalesforceGeneralError) as info:
            sf.Lead.create({"LastName": "S", "Company": "C"}, headers=NO_ASSIGN)
        statuses.add(info.value.status)
        assert isinstance(info.value.content, list)
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    assert sf_box.leads() == [] and sf_box.api_calls == 0
    assert {e.status for e in sf_wait_log(sf_box, 12)} == statuses


def test_ambiguous_write_is_applied_but_answered_502(sf_box: SalesforceSandbox,
                                                     sf: Client) -> None:
    lead = sf_box.seed_leads(1)[0]
    maria = sf_box.user_id("maria")
    sf_box.faults = Faults(ambiguous_rate=1.0)
    with pytest.raises(SalesforceGeneralError) as info:
        sf.Lead.update(lead, {"OwnerId": maria}, headers=NO_ASSIGN)
    assert info.value.status == 502
    assert sf_box.get(lead)["OwnerId"] == maria  # the write happened
    with pytest.raises(SalesforceGeneralError):
        sf.Task.create({"WhoId": lead, "OwnerId": maria, "Subject": "Call"})
    assert len(sf_box.tasks(lead)) == 1  # so a blind retry would duplicate the task
    # Reads are never ambiguous; neither is a composite made only of GETs.
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 1
    resp = sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": "l"}]})
    assert resp["compositeResponse"][0]["httpStatusCode"] == 200
    with pytest.raises(SalesforceGeneralError):
        sf.restful("composite/sobjects", method="PATCH", headers=NO_ASSIGN, json={"records": [
            {"attributes": {"type": "Lead"}, "id": lead, "Status": "Working - Contacted"}]})
    assert sf_box.get(lead)["Status"] == "Working - Contacted"


def test_connection_resets(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf_box.faults = Faults(reset_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT Id FROM Lead")
    assert sf_box.request_log[-1].status == 0
    sf_box.faults = Faults()
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0  # a fresh connection works


def test_latency(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf.query("SELECT Id FROM Lead")  # warm the connection
    sf_box.faults = Faults(latency=0.15)
    started = time.perf_counter()
    sf.query("SELECT Id FROM Lead")
    assert time.perf_counter() - started >= 0.15


def test_faults_given_at_construction(sf_client_for: Callable[..., Client]) -> None:
    with SalesforceSandbox(faults=Faults(error_rate=1.0)) as box:
        client = sf_client_for(box)
        with pytest.raises(SalesforceGeneralError):
            client.limits()
        assert box.faults.error_rate == 1.0


def test_partial_error_rate_is_reproducible(sf_box: SalesforceSandbox, sf: Client,
                                            sf_wait_log: LogWait) -> None:
    def run() -> list[int]:
        sf_box.faults = Faults(error_rate=0.5, seed=42)
        sf_box.clear_log()
        for _ in range(20):
            with contextlib.suppress(SalesforceGeneralError):
                sf.query("SELECT Id FROM Lead")
        return [e.status for e in sf_wait_log(sf_box, 20)]

    first = run()
    assert 0 < sum(s != 200 for s in first) < 20
    assert run() == first


def test_injected_faults_carry_limit_info(sf_box: SalesforceSandbox, sf: Client) -> None:
    sf.query("SELECT Id FROM Lead")
    sf_box.faults = Faults(error_rate=1.0)
    raw = sf.session.get(f"{sf.base_url}query/", params={"q": "SELECT Id FROM Lead"},
                         headers=sf.headers)
    assert raw.status_code in (500, 502, 503)
    assert raw.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert raw.json()[0]["errorCode"] in ("UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE")
