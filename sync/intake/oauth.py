"""OAuth 2.0 access tokens for IMAP XOAUTH2 (Microsoft 365, Google Workspace).

Three sources, per `[intake.email]`:
- client credentials (Microsoft 365: an app registration with `IMAP.AccessAsApp`, token URL
  `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`, scope
  `https://outlook.office365.com/.default`);
- a Google service account with domain-wide delegation: a JWT signed with its key, for the
  mailbox user (`sub`), scope `https://mail.google.com/`, exchanged at its `token_uri`;
- a token in an environment variable, kept fresh by something else.
Tokens are cached until a minute before they expire. Secrets and tokens never reach errors
or logs.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import requests

from sync.config.intake import EmailTable
from sync.intake.mailbox import MailboxAuthError

GOOGLE_SCOPE = "https://mail.google.com/"
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MARGIN = 60.0  # seconds before expiry a cached token is renewed
_cache: dict[tuple[str, ...], tuple[str, float]] = {}
_lock = threading.Lock()


def xoauth2(user: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial response."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def access_token(table: EmailTable, environ: Mapping[str, str], user: str, *,
                 clock: Callable[[], float] = time.time) -> str:
    if table.oauth_token_env:
        token = environ.get(table.oauth_token_env, "")
        if not token:
            raise MailboxAuthError(f"environment variable {table.oauth_token_env} "
                                   "(intake.email.oauth_token_env) is empty")
        return token
    key = (table.host, user, table.oauth_token_url, table.oauth_service_account_file,
           table.oauth_client_id_env)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[1] - MARGIN > clock():
            return cached[0]
        if table.oauth_service_account_file:
            token, lifetime = _google(table, user, clock())
        else:
            token, lifetime = _client_credentials(table, environ)
        _cache[key] = (token, clock() + lifetime)
        return token


def _post(table: EmailTable, url: str, data: dict[str, str]) -> tuple[str, float]:
    verify: str | bool = table.oauth_ca_bundle or True
    session = requests.Session()
    session.trust_env = False  # the configured CA wins over REQUESTS_CA_BUNDLE
    try:
        response = session.post(url, data=data, timeout=table.timeout.total_seconds(),
                                verify=verify)
    except requests.RequestException as exc:
        raise MailboxAuthError(f"OAuth token endpoint: {type(exc).__name__}") from None
    finally:
        session.close()
    if response.status_code != 200:
        code = ""
        with contextlib.suppress(ValueError, AttributeError):  # the OAuth error code only
            code = str(response.json().get("error") or "")
        raise MailboxAuthError(f"OAuth token endpoint: HTTP {response.status_code} {code}"
                               .strip())
    try:
        body: Any = response.json()
        return str(body["access_token"]), float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise MailboxAuthError("OAuth token endpoint: no access_token in the answer") from None


def _client_credentials(table: EmailTable, environ: Mapping[str, str]) -> tuple[str, float]:
    client_id = environ.get(table.oauth_client_id_env, "")
    secret = environ.get(table.oauth_client_secret_env, "")
    if not client_id or not secret:
        raise MailboxAuthError(f"environment variables {table.oauth_client_id_env} and "
                               f"{table.oauth_client_secret_env} (intake.email) must hold the "
                               "OAuth client id and secret")
    return _post(table, table.oauth_token_url, {
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": table.oauth_scope})


def _google(table: EmailTable, user: str, now: float) -> tuple[str, float]:
    try:
        with open(table.oauth_service_account_file, encoding="utf-8") as f:
            key = json.load(f)
        issuer, private_key = str(key["client_email"]), str(key["private_key"])
    except (OSError, ValueError, KeyError, TypeError):
        raise MailboxAuthError("intake.email.oauth_service_account_file is not a service "
                               "account key (JSON with client_email and private_key)") from None
    token_url = table.oauth_token_url or str(key.get("token_uri") or
                                             "https://oauth2.googleapis.com/token")
    # the default scope is Microsoft's: a service account asks for Gmail's unless told
    scope = GOOGLE_SCOPE if table.oauth_scope == MICROSOFT_SCOPE else table.oauth_scope
    assertion = jwt.encode({"iss": issuer, "sub": user, "scope": scope, "aud": token_url,
                            "iat": int(now), "exp": int(now) + 3600}, private_key,
                           algorithm="RS256")
    return _post(table, token_url, {"grant_type": JWT_BEARER, "assertion": assertion})
