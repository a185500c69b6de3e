"""Acknowledgement tokens (signed, bound, 24 h) and the on-call paging keys of the config."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync.ack_links import VALIDITY, AckClaim, AckLinks, BadToken
from sync.config import ConfigError, parse_config
from sync.config.notifications import Paging
from tests.config.test_config_errors import EXAMPLE

SECRET = b"0123456789abcdef-secret"
PAGED = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
LINKS = AckLinks(SECRET, "https://leads.example/")


def _token() -> str:
    return LINKS.url("default", "hubspot", "10001", 2, "maria", PAGED).rsplit("/", 1)[1]


def test_a_token_names_the_page_it_was_made_for() -> None:
    assert LINKS.url("default", "hubspot", "10001", 2, "maria", PAGED).startswith(
        "https://leads.example/ack/")
    claim = LINKS.verify(_token(), PAGED + timedelta(hours=23))
    assert claim == AckClaim("default", "hubspot", "10001", 2, "maria",
                             int((PAGED + VALIDITY).timestamp()))


def _resigned(body_change: dict[str, object]) -> str:
    """A token for a changed claim, signed with the right secret (what a forger lacks)."""
    claim = replace(LINKS.verify(_token(), PAGED), **body_change)  # type: ignore[arg-type]
    return LINKS.token(claim)


@pytest.mark.parametrize(("token", "why"), [
    pytest.param(lambda: _token()[:-2] + ("AA" if not _token().endswith("AA") else "BB"),
                 "forged", id="signature-changed"),
    pytest.param(lambda: _resigned({"crm_id": "10002"}).split(".")[0] + "." +
                 _token().split(".")[1], "forged", id="other-lead-same-signature"),
    pytest.param(lambda: AckLinks(b"another-secret-0123456", "https://x").url(
        "default", "hubspot", "10001", 2, "maria", PAGED).rsplit("/", 1)[1], "forged",
        id="other-secret"),
    pytest.param(lambda: _token().replace(".", ""), "malformed", id="no-dot"),
    pytest.param(lambda: "!!!." + _token().split(".")[1], "malformed", id="not-base64"),
    pytest.param(lambda: "x" * 2000, "malformed", id="too-long"),
])
def test_a_changed_or_foreign_token_is_refused(token: object, why: str) -> None:
    with pytest.raises(BadToken) as refused:
        LINKS.verify(token(), PAGED)  # type: ignore[operator]
    assert refused.value.why == why


def test_a_token_expires_24_hours_after_the_page() -> None:
    LINKS.verify(_token(), PAGED + VALIDITY - timedelta(seconds=1))
    with pytest.raises(BadToken) as refused:
        LINKS.verify(_token(), PAGED + VALIDITY)
    assert refused.value.why == "expired"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        AckLinks(b"short", "https://leads.example")


SMS = """
[notifications.sms]
account_sid_env = "TWILIO_ACCOUNT_SID"
auth_token_env = "TWILIO_AUTH_TOKEN"
from = "+15555550100"
"""
PAGING = 'period = "7d"'


def _paged(keys: str, *, sms: bool = True, phones: tuple[str, ...] = ("james", "carlos",
                                                                        "li")) -> str:
    text = EXAMPLE.replace(PAGING, f"{PAGING}\n{keys}", 1)
    for ident in phones:
        phone = f'phone = "+1626555010{len(ident)}"'
        text = text.replace(f'id = "{ident}"\n', f'id = "{ident}"\n{phone}\n', 1)
    return text + (SMS if sms else "")


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def test_a_rotation_pages_and_escalates_as_configured() -> None:
    config = parse_config(_paged('page = ["sms"]\nack_within = "10m"'))
    assert config.notifications.paging["nights"] == Paging(("sms",), timedelta(minutes=10))


@pytest.mark.parametrize(("keys", "options", "pattern"), [
    ('page = ["sms"]', {"sms": False},
     r'^on_call\[0\]\.page: "sms" needs a \[notifications\.sms\] table'),
    ('page = ["sms"]', {"phones": ("james", "carlos")},
     r'^on_call\[0\]\.page: coordinator "li" has no phone to be paged by sms'),
    ('ack_within = "30s"', {}, r"^on_call\[0\]\.ack_within: "),
    ('page = ["pager"]', {}, r"^on_call\[0\]\.page"),
])
def test_paging_mistakes_are_named_by_key(keys: str, options: dict[str, object],
                                          pattern: str) -> None:
    problems = _problems(_paged(keys, **options))  # type: ignore[arg-type]
    assert any(re.match(pattern, p) for p in problems), problems


def test_a_link_secret_variable_is_a_name_not_a_secret() -> None:
    text = EXAMPLE.replace("[service]\n", '[service]\nlink_secret_env = "s3cr3t value"\n', 1)
    assert any(p.startswith("service.link_secret_env:") for p in _problems(text))
