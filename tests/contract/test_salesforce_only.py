"""What only Salesforce has: OAuth flows, the API budget, Sforce-Auto-Assign, query paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import (
    AuthError,
    FatalError,
    OwnerWrite,
    RetriableError,
    TaskRequest,
    WriteOutcome,
)
from connectors.salesforce.auth import jwt_audience
from connectors.salesforce.errors import BudgetError, classify
from sandbox._server import Request, Response
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.app import is_write
from tests.contract.adapters import SalesforceCrm


@pytest.fixture
def sf() -> Iterator[SalesforceCrm]:
    with SalesforceSandbox() as box:
        yield SalesforceCrm(box)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _oauth_connector(sf: SalesforceCrm, environ: dict[str, str], clock: Clock,
                     **settings: Any) -> Any:
    return sf.connector(settings={"token_env": "", "login_url": sf.box.instance_url,
                                  "consumer_key_env": "SF_KEY", **settings},
                        environ=environ, clock=clock, token_lifetime=600.0)


def test_client_credentials_token_renewed_before_expiry_and_after_a_401(
        sf: SalesforceCrm) -> None:
    box, clock = sf.box, Clock()
    environ = {"SF_KEY": box.oauth_client_id, "SF_SECRET": box.oauth_client_secret}
    connector = _oauth_connector(sf, environ, clock, auth="client_credentials",
                                 client_secret_env="SF_SECRET")
    assert len(connector.owners()) > 10
    assert box.counters["oauth_token"] == 1
    connector.owners()
    assert box.counters["oauth_token"] == 1  # kept while valid
    clock.now += 600.0  # past the lifetime less the margin: renewed before the call
    connector.owners()
    assert box.counters["oauth_token"] == 2 and box.counters.get("invalid_session", 0) == 0
    box.revoke_tokens()  # the org ended the session early: one 401, renewed, done
    connector.owners()
    assert box.counters["oauth_token"] == 3 and box.counters["invalid_session"] == 1


def test_jwt_bearer_with_a_private_key_file(sf: SalesforceCrm, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (tmp_path / "server.key").write_bytes(pem)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    sf.box.register_oauth_client("3MVG9leadrouter", public_key_pem=public.decode())
    connector = _oauth_connector(sf, {"SF_KEY": "3MVG9leadrouter"}, Clock(), auth="jwt",
                                 username="dana@sunrise-recovery.example",
                                 private_key_file=str(tmp_path / "server.key"))
    assert any(o.id == sf.people[0] for o in connector.owners())
    assert sf.box.counters["oauth_token"] == 1


def test_bad_oauth_credentials_are_an_auth_error_without_the_secret(
        sf: SalesforceCrm) -> None:
    environ = {"SF_KEY": sf.box.oauth_client_id, "SF_SECRET": "wrong-secret-value"}
    connector = _oauth_connector(sf, environ, Clock(), auth="client_credentials",
                                 client_secret_env="SF_SECRET")
    with pytest.raises(AuthError) as info:
        connector.owners()
    assert "invalid_client" in str(info.value) and "wrong-secret" not in str(info.value)
    with pytest.raises(AuthError, match="SF_MISSING"):
        _oauth_connector(sf, {"SF_KEY": "k"}, Clock(), auth="client_credentials",
                         client_secret_env="SF_MISSING")


def test_a_static_token_is_not_refreshed(sf: SalesforceCrm) -> None:
    connector = sf.connector()
    connector.owners()
    sf.box.rotate_token()
    with pytest.raises(AuthError) as info:
        connector.owners()
    assert info.value.status == 401 and "INVALID_SESSION_ID" in str(info.value)


def test_the_api_reserve_stops_calls_before_the_budget_is_gone(sf: SalesforceCrm) -> None:
    ids = sf.seed(3)
    sf.box.daily_limit = 20
    connector = sf.connector(settings={"api_reserve": 10})
    made = 0
    with pytest.raises(BudgetError) as info:
        for _ in range(20):
            connector.fetch(ids)
            made += 1
    assert isinstance(info.value, AuthError) and "api_reserve" in str(info.value)
    assert sf.box.api_calls == made == 11  # 20 - 11 = 9 left < 10: the next one never left
    assert sf.box.counters.get("limit_exceeded", 0) == 0


def test_every_lead_write_says_no_auto_assign(sf: SalesforceCrm) -> None:
    seen: list[tuple[str, str, str | None]] = []
    app = sf.box.server.app

    def spy(req: Request) -> Response:
        if is_write(req):
            seen.append((req.method, req.path, req.headers.get("Sforce-Auto-Assign")))
        return app(req)

    sf.box.server.app = spy
    ids = sf.seed(5)
    connector = sf.connector()
    results = connector.write_owners([OwnerWrite(i, sf.people[0], frozenset({None}))
                                      for i in ids])
    assert {r.outcome for r in results} == {WriteOutcome.WRITTEN}
    assert seen and all(header == "FALSE" for _, _, header in seen), seen
    assert all(sf.owner_now(i) == sf.people[0] for i in ids)  # the rule did not fire
    assert sf.box.assignment_rule_active


def test_query_pages_follow_next_records_url(sf: SalesforceCrm) -> None:
    ids = sf.seed(450)
    connector = sf.connector(query_batch_size=200)
    since = datetime.now(UTC) - timedelta(hours=24)
    page = connector.poll(None, since, 100)
    assert len(page.leads) == 200 and page.more  # one page of 200, then stop
    seen = {lead.crm_id for lead in page.leads}
    cursor = page.cursor
    while page.more:
        page = connector.poll(cursor, since, 100)
        seen |= {lead.crm_id for lead in page.leads}
        cursor = page.cursor
    assert seen == set(ids)
    full = connector.poll(None, since, 1000)
    assert len(full.leads) == 450 and not full.more
    assert sf.box.counters["query_more"] >= 2


@pytest.mark.parametrize(("status", "body", "kind"), [
    (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
            "message": "TotalRequests Limit exceeded."}], BudgetError),
    (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
            "message": "ConcurrentPerOrgLongTxn Limit exceeded"}], RetriableError),
    (401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}], AuthError),
    (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}], AuthError),
    (400, [{"errorCode": "MALFORMED_QUERY", "message": "near 'jane@example.com'"}],
     FatalError),
    (503, "<html>down</html>", RetriableError),
    (429, None, RetriableError),
])
def test_the_error_table(status: int, body: Any, kind: type[Exception]) -> None:
    error = classify("Lead.poll", status, body)
    assert type(error) is kind and error.status == status
    assert "example.com" not in str(error) and str(error).startswith("Salesforce Lead.poll")


def test_save_errors_reject_one_record_and_the_rest_are_written(sf: SalesforceCrm) -> None:
    ids = sf.seed(3)
    connector = sf.connector()
    results = {r.crm_id: r for r in connector.write_owners([
        OwnerWrite(ids[0], sf.people[0], frozenset({None})),
        OwnerWrite(ids[1], sf.inactive, frozenset({None})),  # allOrNone: false
        OwnerWrite(ids[2], sf.people[1], frozenset({None}))])}
    assert results[ids[1]].outcome is WriteOutcome.REJECTED
    assert results[ids[1]].error == "INACTIVE_OWNER_OR_USER"
    assert sf.owner_now(ids[1]) == sf.unowned
    assert results[ids[0]].outcome is results[ids[2]].outcome is WriteOutcome.WRITTEN
    sf.box.store.delete("Lead", ids[0])
    gone = connector.write_owners([OwnerWrite(ids[0], sf.people[1], frozenset({None}))])
    assert [r.outcome for r in gone] == [WriteOutcome.MISSING]


def test_task_fields_as_salesforce_expects_them(sf: SalesforceCrm) -> None:
    ids = sf.seed(3)
    due = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    connector = sf.connector()
    connector.create_tasks([TaskRequest(f"lead/{i}/v1/task", i, sf.people[0], "Call", due, p)
                            for i, p in zip(ids, ("HIGH", "MEDIUM", "LOW"), strict=True)],
                           check_existing=False)
    tasks = [sf.box.tasks(i)[0] for i in ids]
    assert [t["Priority"] for t in tasks] == ["High", "Normal", "Low"]
    for record, task in zip(ids, tasks, strict=True):
        assert task["WhoId"] == record and task["Status"] == "Not Started"
        assert task["ActivityDate"] == "2030-01-02"
        assert datetime.fromisoformat(task["ReminderDateTime"]) == due
        assert f"leadrouter-ref:lead/{record}/v1/task" in task["Description"]
        assert task["TaskSubtype"] == "Task"  # never mistaken for a logged call


@pytest.mark.parametrize(("login_url", "audience"), [
    ("https://login.salesforce.com", "https://login.salesforce.com"),
    ("https://test.salesforce.com/", "https://test.salesforce.com"),
    ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
    ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
])
def test_jwt_audience(login_url: str, audience: str) -> None:
    assert jwt_audience(login_url) == audience
