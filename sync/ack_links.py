"""Signed acknowledgement links: `{public_url}/ack/{token}`.

A token names the portal, the lead (CRM kind and id), the assignment number, the coordinator
and when it expires (24 h after the page), and carries an HMAC-SHA256 of exactly that under
the link secret. Nothing else is needed to check it, so the store holds no token; a changed
byte, another secret or a passed expiry is refused, and the signatures are compared in
constant time. Only ids and a time are in it: a link shows no more than the record link does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

VALIDITY = timedelta(hours=24)
MIN_SECRET_BYTES = 16
_DOMAIN = b"leadrouter-ack-v1\x00"  # a signature made for anything else never verifies here


class BadToken(Exception):
    """A token that is forged, altered, expired or not a token at all (answer 403)."""

    phi_safe = True

    def __init__(self, why: str) -> None:
        super().__init__(f"acknowledgement link refused: {why}")
        self.why = why  # malformed | forged | expired


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What an acknowledgement link stands for."""

    portal: str
    crm: str
    crm_id: str
    assignment: int
    coordinator: str
    expires: int  # Unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: a character outside the URL-safe alphabet is an error, not skipped."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class AckLinks:
    """Signs and checks acknowledgement links with one secret."""

    def __init__(self, secret: bytes, public_url: str) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the link secret needs at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.public_url = public_url.rstrip("/")

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, _DOMAIN + body, hashlib.sha256).digest()

    def token(self, claim: AckClaim) -> str:
        body = json.dumps(astuple(claim), separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def url(self, portal: str, crm: str, crm_id: str, assignment: int, coordinator: str,
            paged_at: datetime) -> str:
        """The link for one page, valid `VALIDITY` from `paged_at`."""
        expires = int((paged_at.astimezone(UTC) + VALIDITY).timestamp())
        claim = AckClaim(portal, crm, crm_id, assignment, coordinator, expires)
        return f"{self.public_url}/ack/{self.token(claim)}"

    def verify(self, token: str, now: datetime) -> AckClaim:
        """The claim of a genuine, unexpired token; BadToken otherwise."""
        body_part, dot, signature_part = token.partition(".")
        if not dot or len(token) > 1024:
            raise BadToken("malformed")
        try:
            body, signature = _unb64(body_part), _unb64(signature_part)
        except (binascii.Error, ValueError):
            raise BadToken("malformed") from None
        if not hmac.compare_digest(signature, self._sign(body)):
            raise BadToken("forged")
        claim = _claim_of(body)
        if now.astimezone(UTC).timestamp() >= claim.expires:
            raise BadToken("expired")
        return claim


def _claim_of(body: bytes) -> AckClaim:
    """The claim in a body this secret signed (so its shape is ours; checked all the same)."""
    try:
        portal, crm, crm_id, assignment, coordinator, expires = json.loads(body)
    except (ValueError, TypeError):
        raise BadToken("malformed") from None
    texts = (portal, crm, crm_id, coordinator)
    if not all(isinstance(t, str) for t in texts) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in (assignment, expires)):
        raise BadToken("malformed")
    return AckClaim(portal, crm, crm_id, assignment, coordinator, expires)
