"""XOAUTH2 against a real Dovecot (oauth2 passdb asking a token introspection endpoint):
Microsoft 365's client-credentials grant and a Google service account's JWT bearer grant,
served by a test identity provider over HTTPS on loopback."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.hubspot import HubSpotSandbox
from sync.config import parse_config
from sync.context import build_context
from sync.pipeline import run_once
from tests.intake.conftest import HUBSPOT_FIELDS, intake_section
from tests.intake.dovecot import DOVECOT, USER, Dovecot
from tests.intake.messages import Person, text_message
from tests.pipeline.conftest import config_text

CLIENT_ID, CLIENT_SECRET = "app-7c1d", "client-secret-" + "9" * 8


class IdentityProvider:
    """/token issues tokens (client credentials, or a JWT assertion signed by the service
    account's key); /introspect tells Dovecot whether a token is live (RFC 7662)."""

    def __init__(self, folder: Path) -> None:
        self.issued: set[str] = set()
        self.grants: list[dict[str, str]] = []
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = trustme.CA()
        self.ca_file = folder / "idp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(
                    self.rfile.read(length).decode()).items()}
                status, body = provider.answer(self.path, form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.https = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.https.socket = context.wrap_socket(self.https.socket, server_side=True)
        self.plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.token_url = f"https://127.0.0.1:{self.https.server_address[1]}/token"
        self.introspection_url = f"http://127.0.0.1:{self.plain.server_address[1]}/introspect"
        for server in (self.https, self.plain):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/introspect":
            live = form.get("token") in self.issued
            return 200, {"active": True, "username": USER} if live else {"active": False}
        self.grants.append(form)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            ok = (form.get("client_id"), form.get("client_secret"), form.get("scope")) == (
                CLIENT_ID, CLIENT_SECRET, "https://outlook.office365.com/.default")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(form.get("assertion", ""), self.key.public_key(),
                                    algorithms=["RS256"], audience=self.token_url)
                ok = claims["sub"] == USER and claims["scope"] == "https://mail.google.com/"
            except jwt.InvalidTokenError:
                ok = False
        else:
            ok = False
        if not ok:
            return 400, {"error": "invalid_client"}
        token = "at-" + secrets.token_hex(12)
        self.issued.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3599}

    def service_account(self, folder: Path) -> Path:
        path = folder / "service-account.json"
        pem = self.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        path.write_text(json.dumps({"type": "service_account",
                                    "client_email": "intake@project.iam.example",
                                    "private_key": pem, "token_uri": self.token_url}))
        return path

    def close(self) -> None:
        for server in (self.https, self.plain):
            server.shutdown()
            server.server_close()


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(tmp_path)
    yield provider
    provider.close()


@pytest.fixture
def oauth_dovecot(idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    assert os.path.exists(DOVECOT), "dovecot-imapd is not installed (.ci/run installs it)"
    with Dovecot(introspection_url=idp.introspection_url) as server:
        monkeypatch.setenv("INTAKE_IMAP_USERNAME", USER)
        monkeypatch.delenv("INTAKE_IMAP_PASSWORD", raising=False)
        yield server


def _run(box: HubSpotSandbox, server: Dovecot, tmp_path: Path, oauth: str) -> Any:
    text = config_text(box, tmp_path / "state.db") + intake_section(
        server, HUBSPOT_FIELDS, extra='auth = "xoauth2"\n' + oauth)
    ctx = build_context(parse_config(text), environ={"HUBSPOT_TOKEN": box.token})
    try:
        return run_once(ctx)
    finally:
        ctx.close()


def test_microsoft_client_credentials(box: HubSpotSandbox, oauth_dovecot: Dovecot,
                                      idp: IdentityProvider, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    oauth_dovecot.deliver(text_message(Person(400)))
    oauth = (f'oauth_token_url = "{idp.token_url}"\noauth_client_id_env = "IMAP_CLIENT_ID"\n'
             f'oauth_client_secret_env = "IMAP_CLIENT_SECRET"\n'
             f'oauth_ca_bundle = "{idp.ca_file}"\n')
    monkeypatch.setenv("IMAP_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("IMAP_CLIENT_SECRET", "wrong")
    refused = _run(box, oauth_dovecot, tmp_path, oauth)
    assert refused.failed_steps == ["intake"] and oauth_dovecot.folder_count("INBOX") == 1
    monkeypatch.setenv("IMAP_CLIENT_SECRET", CLIENT_SECRET)
    result = _run(box, oauth_dovecot, tmp_path, oauth)
    assert result.intake.created == 1 and oauth_dovecot.folder_count("INBOX") == 0
    assert [g["grant_type"] for g in idp.grants] == ["client_credentials"] * 2


def test_google_service_account(box: HubSpotSandbox, oauth_dovecot: Dovecot,
                                idp: IdentityProvider, tmp_path: Path) -> None:
    oauth_dovecot.deliver(text_message(Person(401)))
    key = idp.service_account(tmp_path)
    result = _run(box, oauth_dovecot, tmp_path,
                  f'oauth_service_account_file = "{key}"\noauth_ca_bundle = "{idp.ca_file}"\n')
    assert result.intake.created == 1 and oauth_dovecot.folder_count("INBOX") == 0
    assert idp.grants[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
