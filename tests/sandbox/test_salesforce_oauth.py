"""Tokens of the Salesforce emulator: client credentials, JWT bearer, revocation, rotation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceExpiredSession

from sandbox.salesforce import SalesforceSandbox

pytest_plugins = ["tests.sandbox.conftest_salesforce"]  # fixtures: sf_box, sf, ...

if TYPE_CHECKING:
    from tests.sandbox.conftest_salesforce import Client

ClientFor = Callable[..., "Client"]


def test_client_credentials(sf_box: SalesforceSandbox, sf: Client,
                            sf_client_for: ClientFor) -> None:
    form = {"grant_type": "client_credentials", "client_id": sf_box.oauth_client_id,
            "client_secret": sf_box.oauth_client_secret}
    resp = sf.session.post(sf_box.token_url, data=form)
    assert resp.status_code == 200
    body = resp.json()
    assert body["instance_url"] == sf_box.instance_url and body["token_type"] == "Bearer"
    client = sf_client_for(sf_box, token=body["access_token"])
    assert client.query("SELECT Id FROM Organization")["totalSize"] == 1
    basic = sf.session.post(sf_box.token_url, data={"grant_type": "client_credentials"},
                            auth=(sf_box.oauth_client_id, sf_box.oauth_client_secret))
    assert basic.status_code == 200
    bad = sf.session.post(sf_box.token_url, data={**form, "client_secret": "wrong"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    sf_box.revoke_tokens()
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT Id FROM Organization")
    assert sf_box.counters["oauth_token"] == 3


def test_jwt_bearer(sf_box: SalesforceSandbox, sf: Client, sf_client_for: ClientFor) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    sf_box.register_oauth_client("3MVG9jwt", public_key_pem=public_pem)

    def assertion(sub: str, aud: str = "https://login.salesforce.com", ttl: int = 180) -> str:
        claims = {"iss": "3MVG9jwt", "sub": sub, "aud": aud, "exp": int(time.time()) + ttl}
        return jwt.encode(claims, key, algorithm="RS256")

    def post(token: str) -> tuple[int, dict[str, str]]:
        resp = sf.session.post(sf_box.token_url, data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token})
        return resp.status_code, resp.json()

    status, body = post(assertion("maria@sunrise-recovery.example"))
    assert status == 200 and body["id"].endswith(sf_box.user_id("maria"))
    client = sf_client_for(sf_box, token=body["access_token"])
    assert client.query("SELECT COUNT() FROM User")["totalSize"] > 0
    assert post(assertion("jordan@sunrise-recovery.example"))[1]["error"] == "invalid_grant"
    assert post(assertion("maria@sunrise-recovery.example", ttl=-60))[1]["error"] == \
        "invalid_grant"
    assert post(assertion("maria@sunrise-recovery.example", aud="https://x"))[0] == 400
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"iss": "3MVG9jwt", "sub": "maria@sunrise-recovery.example",
                         "aud": "https://login.salesforce.com",
                         "exp": int(time.time()) + 60}, other, algorithm="RS256")
    assert post(forged) == (400, {"error": "invalid_grant",
                                  "error_description": "invalid assertion"})


def test_rotate_token(sf_box: SalesforceSandbox, sf: Client, sf_client_for: ClientFor) -> None:
    sf.query("SELECT Id FROM Lead")
    new = sf_box.rotate_token()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")
    assert sf_client_for(sf_box, token=new).query("SELECT Id FROM Lead")["totalSize"] == 0
