"""Email intake against a real Dovecot and the CRM sandboxes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.intake.dovecot import DOVECOT, Dovecot
from tests.intake.messages import DIRECTORY_DOMAIN, FORM_SENDER
from tests.pipeline.conftest import (  # noqa: F401  (the CRM sandboxes and contexts)
    make_context,
    make_sf_context,
    sf_box,
)

HUBSPOT_FIELDS = {"firstname": "First Name", "lastname": "Last Name", "email": "Email",
                  "phone": "Phone", "insurance_type": "Insurance", "zip": "Zip Code",
                  "state": "State", "level_of_care": "Level of Care"}
SALESFORCE_FIELDS = {"FirstName": "First Name", "LastName": "Last Name", "Email": "Email",
                     "Phone": "Phone", "Insurance_Type__c": "Insurance",
                     "PostalCode": "Zip Code", "State": "State",
                     "Level_of_Care__c": "Level of Care"}


def intake_section(server: Dovecot, fields: dict[str, str], *, security: str = "tls",
                   poll_interval: str = "1s", extra: str = "") -> str:
    port = server.port_tls if security == "tls" else server.port_plain
    mapped = "\n".join(f'{prop} = "{label}"' for prop, label in fields.items())
    return f"""
[intake.email]
host = "127.0.0.1"
port = {port}
security = "{security}"
username_env = "INTAKE_IMAP_USERNAME"
password_env = "INTAKE_IMAP_PASSWORD"
folder = "INBOX"
processed_folder = "leadrouter-processed"
review_folder = "leadrouter-review"
poll_interval = "{poll_interval}"
ca_bundle = "{server.ca_file}"
{extra}

[[intake.email.formats]]
name = "website-form"
from = ["{FORM_SENDER}"]
subject = "New inquiry"
source = "website-form"
[intake.email.formats.fields]
{mapped}

[[intake.email.formats]]
name = "directory-listing"
from = ["{DIRECTORY_DOMAIN}"]
source = "directory"
[intake.email.formats.fields]
{mapped}
"""


@pytest.fixture
def dovecot(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT):
        pytest.fail("dovecot-imapd is not installed (.ci/run installs it)")
    with Dovecot() as server:
        for name, value in server.environ().items():
            monkeypatch.setenv(name, value)
        yield server
