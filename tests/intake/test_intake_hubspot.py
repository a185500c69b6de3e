"""Email intake end to end on HubSpot: Dovecot -> parse -> contact -> routed -> moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from structlog.testing import capture_logs

from connectors.retry import RetryPolicy
from sandbox.hubspot import HubSpotSandbox, RouteFault
from state import LeadStatus
from sync.config import parse_config
from sync.context import build_context
from sync.explain import explain
from sync.pipeline import run_once
from sync.report import build_report
from tests.intake.conftest import HUBSPOT_FIELDS, intake_section
from tests.intake.dovecot import Dovecot
from tests.intake.messages import Person, html_message, no_message_id, text_message
from tests.pipeline.conftest import config_text, lead_rows

PROCESSED, REVIEW = "leadrouter-processed", "leadrouter-review"


def _context(box: HubSpotSandbox, server: Dovecot, db: Path,  # type: ignore[no-untyped-def]
             retry: RetryPolicy | None = None, **options: str):
    text = config_text(box, db, extra_hubspot=options.pop("extra_hubspot", "")) + \
        intake_section(server, HUBSPOT_FIELDS, **options)
    extra = {"retry": retry} if retry is not None else {}
    return build_context(parse_config(text), environ={"HUBSPOT_TOKEN": box.token}, **extra)


def _contacts_by_email(box: HubSpotSandbox) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cid in box.contact_ids():
        email = str(box.contact(cid)["properties"].get("email") or "")
        if email:
            found.setdefault(email, []).append(cid)
    return found


def _leaked(texts: list[str], people: list[Person]) -> list[str]:
    return [c for p in people for c in p.canaries() for t in texts if c in t]


def _files(db: Path) -> list[str]:
    return [Path(f).read_bytes().decode("latin-1") for f in
            (db, Path(f"{db}-wal")) if Path(f).exists()]


def test_messages_become_routed_contacts_once_and_leave_the_inbox(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    owned_person, unowned_person = Person(90, "medicaid"), Person(91)
    owned_id = box.create_contact({"email": owned_person.email.lower(),
                                   "hubspot_owner_id": "1003"})
    unowned_id = box.create_contact({"phone": owned_person.phone[:0] + unowned_person.phone})
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    people = [Person(i, "commercial" if i % 2 else "medicaid") for i in range(1, 9)]
    kinds = [
        lambda p: text_message(p),
        lambda p: text_message(p, charset="iso-8859-1", cte="quoted-printable"),
        lambda p: html_message(p, cte="quoted-printable"),
        lambda p: html_message(p, charset="iso-8859-1"),
    ]
    for i, person in enumerate(people):
        dovecot.deliver(kinds[i % 4](person), at=arrived)
    dovecot.deliver(text_message(people[0]), at=arrived)  # redelivery: same Message-ID
    dovecot.deliver(text_message(owned_person), at=arrived)
    dovecot.deliver(html_message(unowned_person), at=arrived)
    bad = [text_message(Person(50), sender="someone@else.example"),  # unknown sender
           text_message(Person(51), email=False, phone=False),  # nothing to reach them by
           text_message(Person(52), subject="Newsletter"),  # sender ok, subject not
           b"\x00\xff not a mime message at all",
           no_message_id(Person(53)).replace(b"Phone: ", b"Fone: ").replace(b"Email: ",
                                                                           b"Mail: ")]
    for raw in bad:
        dovecot.deliver(raw, at=arrived)
    delivered = dovecot.folder_count("INBOX")
    db = tmp_path / "state.db"
    with capture_logs() as logs:
        ctx = _context(box, dovecot, db)
        try:
            first = run_once(ctx)
            second = run_once(ctx)  # nothing new: the inbox is empty
            dovecot.deliver(html_message(people[3]), at=arrived)  # a late redelivery
            third = run_once(ctx)
            rows = lead_rows(ctx)
            with ctx.store.unit_of_work(read_only=True) as uow:
                counts = uow.intake.counts()
            trail = StringIO()
            first_id = next(iter(_contacts_by_email(box)[people[0].email.lower()]))
            assert explain(ctx.store, "hubspot", first_id, Console(file=trail, width=200))
            now = datetime.now(UTC)
            report = build_report(ctx.store, ctx.config, since=now - timedelta(days=1),
                                  until=now + timedelta(minutes=1), now=now)
        finally:
            ctx.close()

    assert first.intake.read == delivered and first.intake.created == len(people)
    assert first.intake.review == len(bad) and first.intake.follow_ups == 1
    assert first.intake.existing == 1 and first.intake.duplicates == 1
    assert second.intake.read == 0 and third.intake.duplicates == 1
    assert third.intake.created == 0
    assert dovecot.folder_count("INBOX") == 0
    # nothing deleted: every delivered message is in one of the two folders
    assert dovecot.folder_count(PROCESSED) + dovecot.folder_count(REVIEW) == delivered + 1
    assert dovecot.folder_count(REVIEW) == len(bad)
    # counted by reason for the report (bytes that are no message have no known sender)
    assert {reason: n for (state, reason), n in counts.items() if state == "review"} == {
        "unknown_sender": 3, "no_email_or_phone": 2}

    assert report["email_intake"] == {
        "leads": len(people) + 2, "by_format": {"directory-listing": 5, "website-form": 5},
        "waiting": 0, "review": len(bad),
        "review_reasons": {"no_email_or_phone": 2, "unknown_sender": 3}}

    by_email = _contacts_by_email(box)
    for person in people:
        ids = by_email.get(person.email.lower(), [])
        assert len(ids) == 1, person.n
        props = box.contact(ids[0])["properties"]
        assert props["phone"] == person.phone and props["zip"] == "85004"
        assert props["state"] == "AZ" and props["firstname"] == person.first
        assert props["hs_analytics_source"] in ("website-form", "directory")
        lead = rows[ids[0]]
        assert lead.status == LeadStatus.TASK_CREATED
        assert props["hubspot_owner_id"] == lead.crm_owner_id
        assert lead.created_at == arrived  # the SLA clock starts at arrival
        assert lead.sla_due == arrived + timedelta(minutes=10)
        tasks = box.tasks_for(ids[0])
        assert len(tasks) == 1
        assert tasks[0]["properties"]["hs_timestamp"].startswith(
            lead.sla_due.strftime("%Y-%m-%dT%H:%M:%S"))
    # the owned record: no new contact, a follow-up task for its owner
    assert by_email[owned_person.email.lower()] == [owned_id]
    follow_ups = box.tasks_for(owned_id)
    assert [t["properties"]["hubspot_owner_id"] for t in follow_ups] == ["1003"]
    assert follow_ups[0]["properties"]["hs_task_subject"] == "New inquiry by email"
    assert box.contact(owned_id)["properties"]["hubspot_owner_id"] == "1003"
    # the unowned record found by phone: routed, no new contact
    assert rows[unowned_id].status == LeadStatus.TASK_CREATED
    assert unowned_person.email.lower() not in by_email
    assert len(box.contact_ids()) == len(people) + 2

    assert f"arrived by email (format website-form) at {arrived.isoformat()}" in \
        trail.getvalue()
    out = capsys.readouterr()
    texts = [repr(logs), out.out, out.err, trail.getvalue(), *_files(db)]
    assert _leaked(texts, [*people, owned_person, unowned_person, Person(50), Person(51),
                           Person(52), Person(53)]) == []


def test_an_uncertain_create_is_found_again_not_repeated(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path) -> None:
    """The create is applied but its answer comes after the client's timeout: the message
    stays, and the next poll finds the contact by email instead of creating another."""
    people = [Person(i) for i in range(20, 23)]
    for person in people:
        dovecot.deliver(text_message(person))
    box.route_faults["POST /crm/v3/objects/contacts"] = RouteFault(after=2.5)
    ctx = _context(box, dovecot, tmp_path / "state.db", extra_hubspot='timeout = "1s"')
    try:
        first = run_once(ctx)
        # the first create was applied, its answer lost; the CRM is not asked again this poll
        assert first.intake.waiting == len(people) and first.intake.created == 0
        made = _contacts_by_email(box)
        assert sum(p.email.lower() in made for p in people) == 1
        assert dovecot.folder_count("INBOX") == len(people)  # nothing moved
        del box.route_faults["POST /crm/v3/objects/contacts"]
        run_once(ctx)
        rows = lead_rows(ctx)
    finally:
        ctx.close()
    by_email = _contacts_by_email(box)
    for person in people:
        ids = by_email[person.email.lower()]
        assert len(ids) == 1
        assert rows[ids[0]].status == LeadStatus.TASK_CREATED
    assert dovecot.folder_count("INBOX") == 0
    assert dovecot.folder_count(PROCESSED) == len(people)


def test_starttls_and_a_server_without_move(box: HubSpotSandbox, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """COPY + \\Deleted + UID EXPUNGE where MOVE is missing; STARTTLS on the plain port."""
    with Dovecot(move=False) as server:
        for name, value in server.environ().items():
            monkeypatch.setenv(name, value)
        people = [Person(i) for i in range(30, 33)]
        for person in people:
            server.deliver(text_message(person))
        ctx = _context(box, server, tmp_path / "state.db", security="starttls")
        try:
            result = run_once(ctx)
        finally:
            ctx.close()
        assert result.intake.created == len(people)
        assert server.folder_count("INBOX") == 0
        assert sorted(server.message_ids(PROCESSED)) == sorted(
            f"<inquiry-{p.n}@forms.sunrise-recovery.example>" for p in people)


def test_a_record_the_crm_refuses_goes_to_review_and_an_outage_waits(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path) -> None:
    """A 400 on the create (the CRM will never take it) -> review, counted `crm_rejected`; a
    503 on the lookup (an outage) -> every message stays for the next poll, none to review."""
    refused, later = Person(40), Person(41)
    dovecot.deliver(text_message(refused))
    # a short retry layer: an outage is given up on in a second, not half a minute
    ctx = _context(box, dovecot, tmp_path / "state.db",
                   retry=RetryPolicy(attempts=2, initial=0.05, maximum=0.1))
    try:
        box.route_faults["POST /crm/v3/objects/contacts"] = RouteFault(status=400)
        first = run_once(ctx)
        del box.route_faults["POST /crm/v3/objects/contacts"]
        assert first.intake.review == 1 and dovecot.folder_count("leadrouter-review") == 1
        dovecot.deliver(text_message(later))
        box.route_faults["POST /crm/v3/objects/contacts/batch/read"] = RouteFault(status=503)
        for _ in range(3):
            outage = run_once(ctx)
            assert outage.intake.waiting == 1 and outage.intake.review == 0
        del box.route_faults["POST /crm/v3/objects/contacts/batch/read"]
        after = run_once(ctx)
        with ctx.store.unit_of_work(read_only=True) as uow:
            counts = uow.intake.counts()
    finally:
        ctx.close()
    assert after.intake.created == 1 and dovecot.folder_count("INBOX") == 0
    assert counts[("review", "crm_rejected")] == 1
    assert refused.email.lower() not in _contacts_by_email(box)


def test_a_phone_only_lead_is_found_by_its_reference_while_search_lags(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path) -> None:
    """No email: search (which trails writes, here by a minute) cannot find an uncertain
    create; the admin's unique `leadrouter_intake_ref` property, read by idProperty, can."""
    box.define_property("contacts", "leadrouter_intake_ref")
    box.set_index_lag(60.0, "contacts")
    people = [Person(60), Person(61)]
    for person in people:
        dovecot.deliver(text_message(person, email=False))
    box.route_faults["POST /crm/v3/objects/contacts"] = RouteFault(after=2.5)
    ctx = _context(box, dovecot, tmp_path / "state.db", extra_hubspot='timeout = "1s"',
                   extra='ref_property = "leadrouter_intake_ref"')
    try:
        first = run_once(ctx)
        assert first.intake.waiting == len(people) and len(box.contact_ids()) == 1
        del box.route_faults["POST /crm/v3/objects/contacts"]
        second = run_once(ctx)
        rows = lead_rows(ctx)
    finally:
        ctx.close()
    assert second.intake.created == len(people)
    by_phone: dict[str, list[str]] = {}
    for cid in box.contact_ids():
        props = box.contact(cid)["properties"]
        by_phone.setdefault(str(props.get("phone")), []).append(cid)
        assert len(str(props.get("leadrouter_intake_ref"))) == 64  # the key hash, no PHI
    for person in people:
        assert len(by_phone[person.phone]) == 1
        assert rows[by_phone[person.phone][0]].status == LeadStatus.TASK_CREATED
    assert dovecot.folder_count("INBOX") == 0
