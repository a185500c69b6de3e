"""Email intake end to end on Salesforce: Dovecot -> parse -> Lead -> routed -> moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.salesforce import SalesforceSandbox
from state import LeadStatus
from sync.config import parse_config
from sync.context import build_context
from sync.pipeline import run_once
from tests.intake.conftest import SALESFORCE_FIELDS, intake_section
from tests.intake.dovecot import Dovecot
from tests.intake.messages import Person, html_message, text_message
from tests.pipeline.conftest import lead_rows, sf_config_text


def test_messages_become_routed_leads_once(sf_box: SalesforceSandbox, dovecot: Dovecot,
                                           tmp_path: Path) -> None:
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    people = [Person(i, "commercial" if i % 2 else "medicaid") for i in range(1, 7)]
    # no first or last name in one format's mapping: the documented defaults fill them in
    fields = dict(SALESFORCE_FIELDS)
    owned = Person(70)
    owner = sf_box.user_id("james")
    owned_id = sf_box.create_lead(LastName="Existing", Company="Family", Email=owned.email,
                                  OwnerId=owner)
    for i, person in enumerate(people):
        raw = (text_message(person, charset="iso-8859-1", cte="quoted-printable") if i % 2
               else html_message(person, cte="quoted-printable"))
        dovecot.deliver(raw, at=arrived)
    dovecot.deliver(text_message(people[1], charset="iso-8859-1", cte="quoted-printable"),
                    at=arrived)  # redelivered
    dovecot.deliver(text_message(owned), at=arrived)
    # the same person through the other format (another Message-ID) in the same poll: the
    # Lead made a moment ago is found, no second one (Salesforce has no unique email)
    dovecot.deliver(html_message(people[2], message_id="<again@listings.example>"),
                    at=arrived)
    dovecot.deliver(text_message(Person(71), email=False, phone=False), at=arrived)
    text = sf_config_text(sf_box, tmp_path / "state.db") + intake_section(dovecot, fields)
    ctx = build_context(parse_config(text),
                        environ={"SALESFORCE_ACCESS_TOKEN": sf_box.token})
    try:
        result = run_once(ctx)
        again = run_once(ctx)
        rows = lead_rows(ctx)
    finally:
        ctx.close()
    assert result.intake.created == len(people) and result.intake.duplicates == 1
    assert result.intake.follow_ups == 1 and result.intake.review == 1
    assert result.intake.existing == 1
    assert again.intake.read == 0
    leads = sf_box.leads()
    for person in people:
        made = [lead for lead in leads if (lead.get("Email") or "").lower() ==
                person.email.lower()]
        assert len(made) == 1
        lead = made[0]
        assert lead["Phone"] == person.phone and lead["PostalCode"] == "85004"
        assert lead["FirstName"] == person.first and lead["Company"] == "[not provided]"
        assert lead["LeadSource"] in ("website-form", "directory")
        row = rows[lead["Id"]]
        assert row.status == LeadStatus.TASK_CREATED
        assert lead["OwnerId"] == row.crm_owner_id
        assert row.created_at == arrived and row.sla_due == arrived + timedelta(minutes=10)
        assert len(sf_box.tasks(lead["Id"])) == 1
    assert [t["OwnerId"] for t in sf_box.tasks(owned_id)] == [owner]
    assert sf_box.get(owned_id)["OwnerId"] == owner
    assert dovecot.folder_count("INBOX") == 0
    assert dovecot.folder_count("leadrouter-processed") == len(people) + 3
    assert dovecot.folder_count("leadrouter-review") == 1
