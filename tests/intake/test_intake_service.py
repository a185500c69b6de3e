"""Through the real service (`leadrouter run`): the mailbox is read every intake
poll_interval; 40 valid messages in two formats make exactly 40 routed contacts, each with
one task due at arrival + SLA; a redelivery and bad messages make nothing; INBOX ends empty."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from tests.intake.conftest import HUBSPOT_FIELDS, intake_section
from tests.intake.dovecot import Dovecot
from tests.intake.messages import Person, html_message, text_message
from tests.service.conftest import ServiceProcess, http

KINDS = (
    lambda p: text_message(p),
    lambda p: text_message(p, charset="iso-8859-1", cte="quoted-printable"),
    lambda p: html_message(p, cte="quoted-printable"),
    lambda p: html_message(p, charset="iso-8859-1"),
)


def _tasks_by_email(box: HubSpotSandbox) -> dict[str, list[list[dict[str, object]]]]:
    out: dict[str, list[list[dict[str, object]]]] = {}
    for cid in box.contact_ids():
        email = str(box.contact(cid)["properties"].get("email") or "")
        out.setdefault(email, []).append(box.tasks_for(cid))
    return out


def test_the_service_turns_the_mailbox_into_routed_contacts(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path) -> None:
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    people = [Person(200 + i, "commercial" if i % 3 else "medicaid") for i in range(40)]
    for i, person in enumerate(people[:30]):
        dovecot.deliver(KINDS[i % 4](person), at=arrived)
    dovecot.deliver(text_message(people[1], charset="iso-8859-1", cte="quoted-printable"),
                    at=arrived)  # a redelivery
    dovecot.deliver(text_message(Person(299), email=False, phone=False), at=arrived)
    service = ServiceProcess(box, tmp_path)
    with service.config.open("a") as config:
        config.write(intake_section(dovecot, HUBSPOT_FIELDS, poll_interval="1s"))
    service.start()
    try:
        time.sleep(1.5)
        for i, person in enumerate(people[30:], start=30):  # while it runs
            dovecot.deliver(KINDS[i % 4](person), at=arrived)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tasks = _tasks_by_email(box)
            if dovecot.folder_count("INBOX") == 0 and all(
                    len(tasks.get(p.email.lower(), [[]])[0]) == 1 for p in people):
                break
            time.sleep(0.5)
        with http() as client:  # the review count on the dashboard and in /api/report
            page = client.get(service.url + "/").text
            api = client.get(service.url + "/api/report").json()
        service.stop()
    finally:
        service.close()
    tasks = _tasks_by_email(box)
    for person in people:
        records = tasks.get(person.email.lower(), [])
        assert len(records) == 1, person.n  # exactly one contact
        assert len(records[0]) == 1  # one task, due at arrival + SLA (10m)
        due = str(records[0][0]["properties"]["hs_timestamp"])  # type: ignore[index]
        assert due.startswith((arrived + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S"))
    assert dovecot.folder_count("INBOX") == 0
    assert dovecot.folder_count("leadrouter-processed") == len(people) + 1
    assert dovecot.folder_count("leadrouter-review") == 1
    assert api["email_intake"]["review_reasons"] == {"no_email_or_phone": 1}
    assert api["email_intake"]["leads"] == len(people)
    assert 'id="email-intake"' in page and "1 in review · 1 no email or phone" in page
    log = service.log_path.read_text()
    for person in [*people, Person(299)]:
        for canary in person.canaries():
            assert canary not in log and canary not in page
