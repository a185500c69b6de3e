"""``POST /services/oauth2/token``: the client-credentials and JWT-bearer flows.

simple-salesforce's own login helpers always build ``https://{domain}.salesforce.com/...``,
so they cannot reach a loopback emulator; a connector that wants these flows against the
sandbox posts the form itself and hands ``access_token`` + ``instance_url`` to
``Salesforce(instance_url=..., session_id=...)``. OAuth errors are JSON objects
(``{"error", "error_description"}``), not the REST API's lists.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import jwt

from sandbox._server import Request, Response

if TYPE_CHECKING:
    from sandbox.salesforce.store import Store

__all__ = ["OAuthClient", "TokenIssuer"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class OAuthClient:
    """A connected app: consumer key, optional secret, optional certificate/public key (PEM)."""

    client_id: str
    client_secret: str | None = None
    public_key_pem: str | None = None
    run_as_user_id: str | None = None  # client credentials run as this user


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


class TokenIssuer:
    """Issues access tokens the REST API accepts (alongside the sandbox's fixed token)."""

    def __init__(self, store: Store, instance_url: str = "") -> None:
        self.store = store
        self.instance_url = instance_url
        self.clients: dict[str, OAuthClient] = {}
        self.tokens: set[str] = set()
        self._lock = threading.Lock()

    def valid(self, token: str) -> bool:
        with self._lock:
            return token in self.tokens

    def revoke_all(self) -> None:
        with self._lock:
            self.tokens.clear()

    def _issue(self, user_id: str) -> Response:
        token = f"{self.store.organization_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self.tokens.add(token)
        issued = str(int(time.time() * 1000))
        return Response(200, {
            "access_token": token, "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/{self.store.organization_id}/{user_id}",
            "token_type": "Bearer", "issued_at": issued, "scope": "api",
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        })

    def handle(self, req: Request) -> Response:
        if req.method != "POST":
            return _oauth_error(405, "invalid_request", "must use HTTP POST")
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(form, req)
        if grant == JWT_GRANT:
            return self._jwt_bearer(form.get("assertion", ""))
        return _oauth_error(400, "unsupported_grant_type", "grant type not supported")

    def _client_credentials(self, form: dict[str, str], req: Request) -> Response:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return _oauth_error(400, "invalid_client", "invalid client credentials")
        client = self.clients.get(client_id or "")
        if client is None or not client.client_secret or not secret or not \
                secrets.compare_digest(client.client_secret, secret):
            return _oauth_error(400, "invalid_client", "invalid client credentials")
        return self._issue(client.run_as_user_id or self.store.integration_user_id)

    def _jwt_bearer(self, assertion: str) -> Response:
        try:
            claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error(400, "invalid_grant", "invalid assertion")
        client = self.clients.get(str(claims.get("iss", "")))
        if client is None or not client.public_key_pem:
            return _oauth_error(400, "invalid_client_id", "client identifier invalid")
        audiences = [*AUDIENCES, self.instance_url]
        try:
            jwt.decode(assertion, client.public_key_pem, algorithms=["RS256"],
                       audience=audiences, options={"require": ["exp", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            return _oauth_error(400, "invalid_grant", "expired authorization code")
        except jwt.PyJWTError:
            return _oauth_error(400, "invalid_grant", "invalid assertion")
        with self.store.lock:
            user = next((u for u in self.store.records["User"].values()
                         if u.get("Username") == claims.get("sub")), None)
        if user is None or not user.get("IsActive"):
            return _oauth_error(400, "invalid_grant", "user hasn't approved this consumer")
        return self._issue(str(user["Id"]))
