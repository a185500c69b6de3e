"""The log pipeline's allow-list: lead details cannot reach a log line, even via exceptions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from sync.logs import configure_logging, get_logger

EMAIL = "jane.roe.1984@example.com"
PHONE = "+1 602 555 0199"
NAME = "Jane Roe"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    yield buffer
    structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_allowed_keys_pass_and_unknown_keys_are_dropped_by_name(stream: io.StringIO) -> None:
    get_logger("t").info("lead.routed", lead="1017", owner="maria", rule="commercial",
                         email=EMAIL, firstname=NAME, phone=PHONE)
    (line,) = lines(stream)
    assert line["lead"] == "1017" and line["owner"] == "maria" and line["rule"] == "commercial"
    assert line["dropped"] == ["email", "firstname", "phone"]
    text = stream.getvalue()
    assert EMAIL not in text and NAME not in text and PHONE not in text


def test_context_variables_pass_the_same_allow_list(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(lead="2001", lastname="Roe")
    try:
        get_logger("t").info("lead.held")
    finally:
        structlog.contextvars.clear_contextvars()
    (line,) = lines(stream)
    assert line["lead"] == "2001" and "Roe" not in stream.getvalue()


def test_exception_messages_are_dropped_unless_declared_phi_safe(stream: io.StringIO) -> None:
    log = get_logger("t")
    try:
        raise ValueError(f"bad contact {EMAIL} / {NAME}")
    except ValueError:
        log.exception("crm.failed", lead="1")
    (line,) = lines(stream)
    assert line["error_type"] == "ValueError"
    assert "error" not in line and line["frames"]
    assert EMAIL not in stream.getvalue() and NAME not in stream.getvalue()


def test_our_own_errors_keep_their_id_only_messages(stream: io.StringIO) -> None:
    from connectors.base import RetriableError

    try:
        raise RetriableError("HubSpot contacts.search: HTTP 503", status=503)
    except RetriableError:
        get_logger("t").exception("crm.failed")
    (line,) = lines(stream)
    assert line["error"] == "HubSpot contacts.search: HTTP 503"


def test_crm_error_text_never_echoes_the_response_body() -> None:
    from connectors.hubspot.errors import classify

    body = json.dumps({"status": "error", "category": "VALIDATION_ERROR",
                       "message": f"Property values were not valid: {EMAIL}"})
    error = classify("contacts.batch_update", 400, {}, body)
    assert type(error).__name__ == "FatalError"
    assert "VALIDATION_ERROR" in str(error) and EMAIL not in str(error)
