"""The notification receivers on loopback, driven by the real clients: smtplib, slack-sdk's
WebhookClient and the twilio package. Addresses and numbers are synthetic."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import requests
from slack_sdk.webhook import WebhookClient
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator

pytestmark = pytest.mark.timeout(30)

TO, FROM = "+15005550006", "+15005550001"


# -- SMTP -------------------------------------------------------------------------------------
@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def note(subject: str = "New lead assigned") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "leadrouter@example.test"
    msg["To"] = "owner-1001@example.test"
    msg["Subject"] = subject
    msg.set_content("A lead is waiting (synthetic).")
    return msg


def tls(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def test_smtp_starttls_login_delivers(smtp: SmtpSink) -> None:
    assert smtp.host == "127.0.0.1" and isinstance(smtp.port, int) and smtp.port > 0
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
        s.starttls(context=tls(smtp.ca_bundle))
        s.login(smtp.username, smtp.password)
        s.send_message(note())
    assert smtp.wait_for(1, timeout=5)
    [got] = smtp.messages
    assert isinstance(got, EmailMessage)
    assert got["Subject"] == "New lead assigned"
    assert got["To"] == "owner-1001@example.test"
    assert got.get_content().strip() == "A lead is waiting (synthetic)."


def test_smtp_certificate_is_only_trusted_through_ca_bundle(smtp: SmtpSink) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s, \
            pytest.raises(ssl.SSLCertVerificationError):
        s.starttls(context=ssl.create_default_context())
    assert smtp.messages == []


def test_smtp_plain_unauthenticated_mail_is_accepted_by_default(smtp: SmtpSink) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
        s.send_message(note())
    assert smtp.wait_for(1, timeout=5)


def test_smtp_wrong_password_is_refused(smtp: SmtpSink) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
        s.starttls(context=tls(smtp.ca_bundle))
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login(smtp.username, smtp.password + "x")
    assert err.value.smtp_code == 535


def test_smtp_require_auth(smtp: SmtpSink) -> None:
    smtp.require_auth = True
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            s.send_message(note())
        assert err.value.smtp_code == 530
        s.starttls(context=tls(smtp.ca_bundle))
        s.login(smtp.username, smtp.password)
        s.send_message(note())
    assert smtp.wait_for(1, timeout=5)
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("code", [451, 554])
def test_smtp_fail_next_refuses_data_with_the_code(smtp: SmtpSink, code: int) -> None:
    smtp.fail_next(2, code=code)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
        s.starttls(context=tls(smtp.ca_bundle))
        s.login(smtp.username, smtp.password)
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as err:
                s.sendmail("leadrouter@example.test", ["owner-1001@example.test"],
                           note().as_bytes())
            assert isinstance(err.value, smtplib.SMTPResponseException)
            assert err.value.smtp_code == code
            s.rset()
        s.send_message(note("third try"))
    assert smtp.wait_for(1, timeout=5)
    assert [m["Subject"] for m in smtp.messages] == ["third try"]


def test_smtp_wait_for_times_out(smtp: SmtpSink) -> None:
    assert smtp.wait_for(1, timeout=0.2) is False


# -- Slack ------------------------------------------------------------------------------------
@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackReceiver]:
    # WebhookClient takes HTTPS_PROXY from the environment and ignores NO_PROXY.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with SlackReceiver() as receiver:
        yield receiver


def webhook(slack: SlackReceiver) -> WebhookClient:
    return WebhookClient(slack.url, ssl=tls(slack.ca_bundle), timeout=10)


def raw_post(url: str, body: bytes, ca_bundle: str) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=tls(ca_bundle), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_slack_webhook_client_gets_ok(slack: SlackReceiver) -> None:
    assert slack.url.startswith("https://127.0.0.1:") and "/services/T" in slack.url
    resp = webhook(slack).send(text="lead waiting", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "lead waiting"}}])
    assert (resp.status_code, resp.body) == (200, "ok")
    assert slack.wait_for(1, timeout=5)
    [got] = slack.messages
    assert got["text"] == "lead waiting" and got["blocks"][0]["type"] == "section"


def test_slack_429_with_retry_after_is_surfaced(slack: SlackReceiver) -> None:
    slack.fail_next(1, status=429, retry_after=7)
    client = webhook(slack)
    resp = client.send(text="one")
    assert resp.status_code == 429 and resp.body == "rate_limited"
    assert resp.headers["Retry-After"] in ("7", ["7"])
    assert slack.messages == []
    assert client.send(text="two").status_code == 200
    assert [m["text"] for m in slack.messages] == ["two"]
    assert [e.retry_after for e in slack.request_log] == [7.0, None]


def test_slack_fail_next_500(slack: SlackReceiver) -> None:
    slack.fail_next(1)
    resp = webhook(slack).send(text="one")
    assert resp.status_code == 500 and slack.messages == []


def test_slack_rejects_bad_payloads_and_paths(slack: SlackReceiver) -> None:
    assert raw_post(slack.url, b"not json", slack.ca_bundle) == (400, "invalid_payload")
    assert raw_post(slack.url, b'{"username": "x"}', slack.ca_bundle) == (400, "invalid_payload")
    assert raw_post(slack.url, b"[1]", slack.ca_bundle) == (400, "invalid_payload")
    wrong = slack.base_url + "/services/T0/B0/nope"
    assert raw_post(wrong, json.dumps({"text": "x"}).encode(), slack.ca_bundle) == \
        (404, "no_service")
    assert slack.messages == []
    assert slack.wait_for(1, timeout=0.2) is False


# -- Twilio -----------------------------------------------------------------------------------
@pytest.fixture
def tw() -> Iterator[TwilioEmulator]:
    with TwilioEmulator() as emulator:
        yield emulator


def twilio_client(tw: TwilioEmulator, token: str | None = None) -> Client:
    """The real twilio client against the emulator, as the module docstring describes."""
    http = TwilioHttpClient(timeout=10)
    assert http.session is not None
    http.session.verify = tw.ca_bundle
    http.session.trust_env = False
    client = Client(tw.account_sid, token or tw.auth_token, http_client=http)
    client.api.base_url = tw.base_url
    return client


def test_twilio_client_creates_and_lists(tw: TwilioEmulator) -> None:
    client = twilio_client(tw)
    sent = client.messages.create(to=TO, from_=FROM, body="lead waiting")
    assert sent.sid is not None and sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.status == "queued" and sent.to == TO and sent.from_ == FROM
    assert sent.account_sid == tw.account_sid
    assert isinstance(sent.date_created, datetime)
    assert tw.wait_for(1, timeout=5)
    [stored] = tw.messages
    assert set(stored) == {"sid", "to", "from", "body", "status", "date_created"}
    assert (stored["sid"], stored["to"], stored["body"]) == (sent.sid, TO, "lead waiting")

    client.messages.create(to="+15005550009", from_=FROM, body="other")
    client.messages.create(to=TO, from_=FROM, body="again")
    assert [m.body for m in client.messages.list(to=TO)] == ["again", "lead waiting"]
    # page_size 1: the client follows next_page_uri through the emulator
    assert len(client.messages.list(page_size=1)) == 3
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert len(client.messages.list(date_sent_after=today)) == 3
    assert client.messages.list(date_sent_after=today + timedelta(days=1)) == []
    assert client.messages(sent.sid).fetch().body == "lead waiting"


def test_twilio_list_raw_shape_and_date_filter(tw: TwilioEmulator) -> None:
    twilio_client(tw).messages.create(to=TO, from_=FROM, body="x")
    url = f"{tw.base_url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json"
    auth = (tw.account_sid, tw.auth_token)
    day = datetime.now(UTC).date()
    for when, expected in ((day, 1), (day + timedelta(days=1), 0)):
        # "DateSent>=" written literally, as Twilio's docs and curl examples do
        resp = requests.get(f"{url}?To=%2B15005550006&DateSent>={when.isoformat()}",
                            auth=auth, verify=tw.ca_bundle, timeout=10)
        assert resp.status_code == 200
        body = resp.json()
        assert len(body["messages"]) == expected
        assert body["next_page_uri"] is None and body["page"] == 0
        assert {"first_page_uri", "page_size", "previous_page_uri", "uri"} <= set(body)


def test_twilio_invalid_to_is_21211(tw: TwilioEmulator) -> None:
    with pytest.raises(TwilioRestException) as err:
        twilio_client(tw).messages.create(to="5550006", from_=FROM, body="x")
    assert (err.value.status, err.value.code) == (400, 21211)
    assert tw.messages == []


def test_twilio_requires_basic_auth(tw: TwilioEmulator) -> None:
    with pytest.raises(TwilioRestException) as err:
        twilio_client(tw, token="0" * 32).messages.create(to=TO, from_=FROM, body="x")
    assert (err.value.status, err.value.code) == (401, 20003)
    resp = requests.get(f"{tw.base_url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json",
                        verify=tw.ca_bundle, timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == 20003
    assert tw.messages == []


def test_twilio_fail_next(tw: TwilioEmulator) -> None:
    client = twilio_client(tw)
    tw.fail_next(1, status=429, retry_after=3)
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=TO, from_=FROM, body="x")
    assert err.value.status == 429 and tw.messages == []
    assert tw.request_log[-1].retry_after == 3.0

    tw.fail_next(1, status=503, accepted=True)  # stored, but the caller sees an error
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=TO, from_=FROM, body="y")
    assert err.value.status == 503
    assert [m["body"] for m in tw.messages] == ["y"]

    client.messages.create(to=TO, from_=FROM, body="z")
    assert tw.wait_for(2, timeout=5)
