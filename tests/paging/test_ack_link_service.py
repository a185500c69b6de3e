"""`GET /ack/{token}` on the real service: the link in a message acknowledges; any other
token (altered, signed with another secret, expired, for another lead) gets 403."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import TwilioEmulator
from sync.ack_links import AckLinks
from tests.notify.conftest import sms_table, with_contacts
from tests.paging.conftest import LINK_SECRET
from tests.pipeline.conftest import seed
from tests.service.conftest import REPO, ServiceProcess


@pytest.fixture
def service(box: HubSpotSandbox, twilio: TwilioEmulator, tmp_path: Path
            ) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(box, tmp_path, single_pool=True, extra_service=(
        'link_secret_env = "LEADROUTER_LINK_SECRET"\n'))
    text = svc.config.read_text().replace(
        "[service]\n", f'[service]\npublic_url = "{svc.url}"\n')
    svc.config.write_text(with_contacts(text, ("sms",)) + sms_table(twilio))
    seed(box, 2, seed_value=31)  # found by the first poll, at start
    svc.start(env={"TWILIO_ACCOUNT_SID": twilio.account_sid,
                   "TWILIO_AUTH_TOKEN": twilio.auth_token,
                   "LEADROUTER_LINK_SECRET": LINK_SECRET})
    yield svc
    svc.close()


def _explain(svc: ServiceProcess, crm_id: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(svc.config),
                           "explain", crm_id], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    return done.stdout + done.stderr


def test_the_link_in_a_message_acknowledges_and_forged_or_expired_ones_are_refused(
        box: HubSpotSandbox, twilio: TwilioEmulator, service: ServiceProcess) -> None:
    assert twilio.wait_for(2, timeout=30), "the assignments were not sent"
    links = [re.search(r"Acknowledge: (\S+)", m["body"]) for m in twilio.messages]
    assert all(links)
    first = links[0].group(1)  # type: ignore[union-attr]
    assert first.startswith(f"{service.url}/ack/")
    token = first.rsplit("/", 1)[1]
    claim = AckLinks(LINK_SECRET.encode(), service.url).verify(token, datetime.now(UTC))

    forged = AckLinks(b"another-secret-0123456789abcdef", service.url)
    expired = AckLinks(LINK_SECRET.encode(), service.url).url(
        claim.portal, claim.crm, claim.crm_id, claim.assignment, claim.coordinator,
        datetime.now(UTC) - timedelta(hours=24, seconds=1))
    body, _, signature = token.partition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other_lead = AckLinks(LINK_SECRET.encode(), service.url).url(
        claim.portal, claim.crm, claim.crm_id, claim.assignment + 1, claim.coordinator,
        datetime.now(UTC)).rsplit("/", 1)[1]
    with httpx.Client(timeout=10) as client:
        refused = [
            client.get(forged.url(claim.portal, claim.crm, claim.crm_id, claim.assignment,
                                  claim.coordinator, datetime.now(UTC))),
            client.get(expired),
            client.get(f"{service.url}/ack/{body}.{flipped}"),
            client.get(f"{service.url}/ack/{body}"),
            client.get(f"{service.url}/ack/not-a-token"),
        ]
        assert [r.status_code for r in refused] == [403] * 5
        assert all("not valid or has expired" in r.text for r in refused)
        assert "acknowledged" not in _explain(service, claim.crm_id)

        ok = client.get(first)
        assert ok.status_code == 200 and "Acknowledged" in ok.text
        assert ok.headers["cache-control"] == "no-store"
        assert ok.headers["referrer-policy"] == "no-referrer"
        assert 'name="viewport"' in ok.text
        again = client.get(first)
        assert again.status_code == 200 and "Already acknowledged" in again.text
        # genuine, but for an assignment the lead never had: not this page to acknowledge
        assert client.get(f"{service.url}/ack/{other_lead}").status_code == 409
    trail = _explain(service, claim.crm_id)
    assert "acknowledged" in trail and "link" in trail
