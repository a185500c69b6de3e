"""Each channel sorts its provider's answers into retriable, permanent and uncertain."""

from __future__ import annotations

import pytest
import requests
import responses

from sandbox.notify import SlackReceiver, SmtpSink
from sync.config.notifications import EmailTable, SmsTable
from sync.notify.channels import Message, Permanent, Retriable, Uncertain
from sync.notify.email import EmailChannel
from sync.notify.slack import SlackChannel
from sync.notify.sms import SmsChannel

BASE = "https://twilio.test"
SID = "AC" + "0" * 32
URL = f"{BASE}/2010-04-01/Accounts/{SID}/Messages.json"
MESSAGE = Message("+16265550101", "subject", "New lead assigned to you: lead 1\nref abc123",
                  "abc123")


def sms() -> SmsChannel:
    table = SmsTable.model_validate({"from": "+15555550100", "api_base": BASE})
    return SmsChannel(table, SID, "token")


def _error(status: int, **headers: str) -> None:
    responses.add(responses.POST, URL, status=status, headers=headers,
                  json={"code": 20500, "message": "Error", "status": status})


@responses.activate
def test_twilio_429_is_retriable_after_its_retry_after() -> None:
    _error(429, **{"Retry-After": "7"})
    with pytest.raises(Retriable) as caught:
        sms().send(MESSAGE)
    assert caught.value.retry_after == 7.0


@responses.activate
def test_twilio_5xx_may_have_been_taken_so_it_is_uncertain() -> None:
    _error(503)
    with pytest.raises(Uncertain):
        sms().send(MESSAGE)


@responses.activate
def test_twilio_4xx_is_permanent() -> None:
    responses.add(responses.POST, URL, status=400,
                  json={"code": 21211, "message": "Invalid 'To'", "status": 400})
    with pytest.raises(Permanent, match="twilio 400 \\(code 21211\\)"):
        sms().send(MESSAGE)


@responses.activate
def test_twilio_timeout_after_sending_is_uncertain_and_a_connect_failure_retriable() -> None:
    responses.add(responses.POST, URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(Uncertain):
        sms().send(MESSAGE)
    responses.replace(responses.POST, URL, body=requests.ConnectTimeout("no route"))
    with pytest.raises(Retriable):
        sms().send(MESSAGE)


@responses.activate
def test_twilio_lookup_finds_a_message_by_its_marker_only() -> None:
    found = [{"sid": "SM1", "to": MESSAGE.to, "body": "other ref zzz", "status": "queued"},
             {"sid": "SM2", "to": MESSAGE.to, "body": MESSAGE.text, "status": "sent"}]
    page: dict[str, object] = {"messages": found, "next_page_uri": None, "page": 0,
                               "page_size": 50}
    responses.add(responses.GET, URL, json=page)
    assert sms().already_sent(MESSAGE) == "SM2"
    sent = responses.calls[0].request
    assert "To=%2B16265550101" in str(sent.url) and "DateSent%3E" in str(sent.url)
    responses.replace(responses.GET, URL, json={**page, "messages": found[:1]})
    assert sms().already_sent(MESSAGE) is None


def email(sink: SmtpSink) -> EmailChannel:
    table = EmailTable.model_validate({"host": sink.host, "port": sink.port,
                                       "from": "lr@sunrise.example",
                                       "ca_bundle": sink.ca_bundle})
    return EmailChannel(table, sink.username, sink.password)


def test_smtp_4xx_is_retriable_5xx_permanent_and_then_it_is_delivered() -> None:
    with SmtpSink() as sink:
        channel = email(sink)
        sink.fail_next(1, code=451)
        with pytest.raises(Retriable, match="451"):
            channel.send(MESSAGE)
        sink.fail_next(1, code=550)
        with pytest.raises(Permanent, match="550"):
            channel.send(MESSAGE)
        assert channel.send(MESSAGE) == "accepted"
        assert sink.wait_for(1, 5) and len(sink.messages) == 1


def test_smtp_wrong_password_is_permanent() -> None:
    with SmtpSink() as sink:
        table = email(sink).table
        with pytest.raises(Permanent, match="535"):
            EmailChannel(table, sink.username, "wrong").send(MESSAGE)


def test_slack_429_honours_retry_after_and_4xx_is_permanent() -> None:
    with SlackReceiver() as receiver:
        channel = SlackChannel(receiver.url, receiver.ca_bundle)
        receiver.fail_next(1, status=429, retry_after=3)
        with pytest.raises(Retriable) as caught:
            channel.send(MESSAGE)
        assert caught.value.retry_after == 3.0
        receiver.fail_next(1, status=404)
        with pytest.raises(Permanent, match="slack 404"):
            channel.send(MESSAGE)
        assert channel.send(MESSAGE) == "ok"
        assert receiver.messages == [{"text": MESSAGE.text, "unfurl_links": False}]
