"""Access tokens: from the environment, or OAuth 2.0 (JWT bearer, client credentials).

simple-salesforce's own login helpers build `https://{domain}.salesforce.com/...` and keep
no expiry, so the OAuth flows post to `{login_url}/services/oauth2/token` themselves and hand
the token to `Salesforce(instance_url=..., session_id=...)`. Salesforce's token answers carry
no `expires_in` (the session timeout is an org setting, 15 minutes at the least, extended by
activity), so a token is renewed after `lifetime` and whenever the API answers 401.

Secrets (client secret, private key, tokens) are never logged or put into error messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
import requests

from connectors.base import AuthError, CrmError, RetriableError
from connectors.salesforce.errors import classify
from connectors.settings import SalesforceConfig

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_LIFETIME = 30 * 60.0  # renewal period when the answer states no expiry
MARGIN = 60.0  # renew this long before a stated expiry


@dataclass(frozen=True)
class AccessToken:
    value: str
    instance_url: str
    expires_at: float | None  # on the `clock` timeline; None = never renewed proactively


class TokenSource(Protocol):
    refreshable: bool

    def fetch(self) -> AccessToken: ...


class StaticToken:
    """A token from the environment (sandbox, tests, a token minted elsewhere)."""

    refreshable = False

    def __init__(self, token: str, instance_url: str) -> None:
        self._token = AccessToken(token, instance_url, None)

    def fetch(self) -> AccessToken:
        return self._token


def jwt_audience(login_url: str) -> str:
    """`aud` of a JWT bearer assertion: login or test.salesforce.com for the standard and
    My Domain login hosts, the login URL itself elsewhere (Experience Cloud, emulators)."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "login.salesforce.com" or host.endswith(".my.salesforce.com"):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


class OAuthFlow:
    """Posts a grant to the token endpoint; subclasses say which grant."""

    refreshable = True

    def __init__(self, login_url: str, session: requests.Session, *, timeout: float,
                 lifetime: float = DEFAULT_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.login_url = login_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.lifetime = lifetime
        self.clock = clock

    def form(self) -> dict[str, str]:
        raise NotImplementedError

    def fetch(self) -> AccessToken:
        endpoint = "oauth2/token"
        try:
            response = self.session.post(self.login_url + TOKEN_PATH, data=self.form(),
                                         headers={"Accept": "application/json"},
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise RetriableError(f"Salesforce {endpoint}: {type(exc).__name__}",
                                 status=0) from None
        if response.status_code != 200:
            error: CrmError = classify(endpoint, response.status_code, response.text,
                                       response.headers)
            if response.status_code == 400:  # invalid_grant / invalid_client: a person acts
                error = AuthError(str(error), status=400)
            raise error
        body: Mapping[str, Any] = response.json()
        token = str(body.get("access_token") or "")
        if not token:
            raise AuthError(f"Salesforce {endpoint}: HTTP 200 without an access_token")
        lifetime = float(body.get("expires_in") or self.lifetime)
        return AccessToken(token, str(body.get("instance_url") or ""),
                           self.clock() + max(lifetime - MARGIN, 1.0))


class JwtBearer(OAuthFlow):
    """OAuth 2.0 JWT bearer: a connected app with a certificate, pre-authorized users."""

    def __init__(self, login_url: str, session: requests.Session, *, consumer_key: str,
                 username: str, private_key: str, timeout: float,
                 lifetime: float = DEFAULT_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(login_url, session, timeout=timeout, lifetime=lifetime, clock=clock)
        self._consumer_key = consumer_key
        self._username = username
        self._private_key = private_key

    def form(self) -> dict[str, str]:
        claims = {"iss": self._consumer_key, "sub": self._username,
                  "aud": jwt_audience(self.login_url), "exp": int(time.time()) + 180}
        assertion = jwt.encode(claims, self._private_key, algorithm="RS256")
        return {"grant_type": JWT_GRANT, "assertion": assertion}


class ClientCredentials(OAuthFlow):
    """OAuth 2.0 client credentials: the connected app runs as its configured user."""

    def __init__(self, login_url: str, session: requests.Session, *, consumer_key: str,
                 client_secret: str, timeout: float, lifetime: float = DEFAULT_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(login_url, session, timeout=timeout, lifetime=lifetime, clock=clock)
        self._consumer_key = consumer_key
        self._client_secret = client_secret

    def form(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": self._consumer_key,
                "client_secret": self._client_secret}


class TokenKeeper:
    """The current token, renewed before it expires or after a 401 (thread-safe)."""

    def __init__(self, source: TokenSource, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    @property
    def refreshable(self) -> bool:
        return self.source.refreshable

    def current(self) -> AccessToken:
        with self._lock:
            token = self._token
            if token is None or (token.expires_at is not None
                                 and self.clock() >= token.expires_at):
                token = self._token = self.source.fetch()
                self.fetches += 1
            return token

    def invalidate(self, stale: AccessToken) -> None:
        """Forget `stale` (answered 401) so the next `current()` fetches a new one."""
        with self._lock:
            if self._token is stale:
                self._token = None


def _env(environ: Mapping[str, str], name: str, key: str, what: str) -> str:
    value = environ.get(name, "") if name else ""
    if not value:
        raise AuthError(f"environment variable {name or '(unset)'} (crm.salesforce.{key}) is "
                        f"empty: set it to the {what}")
    return value


def token_source(settings: SalesforceConfig, environ: Mapping[str, str],
                 session: requests.Session, *, timeout: float,
                 lifetime: float = DEFAULT_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> TokenSource:
    """The token source `settings.auth` names; AuthError naming the missing setting."""
    if settings.auth == "token":
        return StaticToken(_env(environ, settings.token_env, "token_env", "access token"),
                           settings.instance_url)
    consumer_key = _env(environ, settings.consumer_key_env, "consumer_key_env",
                        "connected app's consumer key")
    if settings.auth == "client_credentials":
        secret = _env(environ, settings.client_secret_env, "client_secret_env",
                      "connected app's consumer secret")
        return ClientCredentials(settings.login_url, session, consumer_key=consumer_key,
                                 client_secret=secret, timeout=timeout, lifetime=lifetime,
                                 clock=clock)
    if settings.auth == "jwt":
        try:
            key = Path(settings.private_key_file).read_text()
        except OSError as exc:
            raise AuthError("crm.salesforce.private_key_file cannot be read "
                            f"({type(exc).__name__})") from None
        if not settings.username:
            raise AuthError('crm.salesforce.username is required with auth = "jwt"')
        return JwtBearer(settings.login_url, session, consumer_key=consumer_key,
                         username=settings.username, private_key=key, timeout=timeout,
                         lifetime=lifetime, clock=clock)
    raise AuthError(f'crm.salesforce.auth = "{settings.auth}" is not supported')
