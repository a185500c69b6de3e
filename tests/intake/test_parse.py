"""Parsing and normalising lead emails (stdlib `email`, policy=default), and
`leadrouter intake test FILE.eml` (values masked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.config.intake import EmailFormat
from sync.intake.normalize import phone, state, zip_code
from sync.intake.parse import message_key, parse, read
from tests.intake.messages import (
    FORM_SENDER,
    Person,
    html_message,
    no_message_id,
    text_message,
)
from tests.intake.test_intake_config import BASE

FIELDS = {"firstname": "first name", "email": "EMAIL", "phone": "  Phone ", "zip": "Zip Code",
          "state": "State", "insurance_type": "Insurance"}
FORMATS = (EmailFormat("form", (FORM_SENDER,), "new inquiry", "website-form", FIELDS),
           EmailFormat("listing", ("@listings.example",), "", "directory", FIELDS))


@pytest.mark.parametrize("raw", [
    text_message(Person(1)),
    text_message(Person(1), charset="iso-8859-1", cte="quoted-printable"),
    text_message(Person(1), charset="utf-8", cte="base64"),
    html_message(Person(1), cte="quoted-printable"),
    html_message(Person(1), charset="iso-8859-1"),
    html_message(Person(1), charset="iso-8859-1", cte="quoted-printable"),
], ids=["text-utf8", "text-latin1-qp", "text-base64", "html-utf8-qp", "html-latin1",
        "html-latin1-qp"])
def test_text_and_html_in_every_charset_give_the_same_values(raw: bytes) -> None:
    person = Person(1)
    parsed = parse(raw, FORMATS)
    assert parsed.reason is None and parsed.format is not None
    assert parsed.properties == {
        "firstname": person.first, "email": person.email.lower(), "phone": person.phone,
        "zip": "85004", "state": "AZ", "insurance_type": "commercial"}
    assert parsed.matched["phone"] == "  Phone " and parsed.missing == ()


def test_sender_subject_and_missing_contact_go_to_review() -> None:
    person = Person(2)
    assert parse(text_message(person, sender="x@elsewhere.example"), FORMATS).reason == \
        "unknown_sender"
    assert parse(text_message(person, subject="Weekly digest"), FORMATS).reason == \
        "unknown_sender"
    lacking = parse(text_message(person, email=False, phone=False), FORMATS)
    assert lacking.reason == "no_email_or_phone" and set(lacking.missing) == {"EMAIL",
                                                                              "  Phone "}
    only_phone = parse(text_message(person, email=False), FORMATS)
    assert only_phone.reason is None and only_phone.email is None
    # a whole domain: any sender of it
    assert parse(html_message(person, sender="alerts@listings.example"),
                 FORMATS).format == FORMATS[1]


def test_message_key_is_the_message_id_or_a_digest() -> None:
    a, b = text_message(Person(3)), text_message(Person(3), charset="iso-8859-1")
    assert message_key(read(a), a) == message_key(read(b), b)  # same Message-ID
    c = no_message_id(Person(3))
    d = no_message_id(Person(4))
    assert message_key(read(c), c) != message_key(read(d), d)
    assert message_key(read(c), c) == message_key(read(c), c)
    assert len(message_key(read(c), c)) == 64


@pytest.mark.parametrize(("written", "expected"), [
    ("(626) 555-0101", "+16265550101"), ("626.555.0101", "+16265550101"),
    ("1-626-555-0101", "+16265550101"), ("+44 20 7946 0958", "+442079460958"),
    ("626-555-0101 ext. 12", "+16265550101"), ("0044 20 7946 0958", "+442079460958"),
    ("555-01", None),
])
def test_phones_become_e164_where_possible(written: str, expected: str | None) -> None:
    assert phone(written) == expected


def test_zip_and_state() -> None:
    assert zip_code("85004-1234") == "85004" and zip_code(" 85004 ") == "85004"
    assert zip_code("K1A 0B1") == "K1A 0B1"  # not a US ZIP: kept
    assert state("new york") == "NY" and state("az") == "AZ" and state("Ontario") == "Ontario"


def test_intake_test_command_shows_labels_and_masks_values(tmp_path: Path) -> None:
    config = tmp_path / "leadrouter.toml"
    fields = "\n".join(f'{prop} = "{label.strip()}"' for prop, label in FIELDS.items())
    config.write_text(BASE + f"""
[intake.email]
host = "imap.example.org"
[[intake.email.formats]]
name = "website-form"
from = ["{FORM_SENDER}"]
source = "website-form"
[intake.email.formats.fields]
{fields}
lastname = "Surname"
""")
    person = Person(5)
    sample = tmp_path / "sample.eml"
    sample.write_bytes(text_message(person, charset="iso-8859-1", cte="quoted-printable"))
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "intake",
                           "test", str(sample)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "format: website-form" in out and "would become a lead" in out
    assert "phone" in out and "'Phone'" in out and "'Surname': (label not found)" in out
    assert "hs_analytics_source" in out
    for canary in person.canaries():
        assert canary not in out and canary not in done.stderr
    bad = tmp_path / "bad.eml"
    bad.write_bytes(text_message(person, sender="x@elsewhere.example"))
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "intake",
                           "test", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "unknown_sender" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "sync", "--config", str(config), "intake",
                              "test", str(tmp_path / "nope.eml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
