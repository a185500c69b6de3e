"""`check` on [intake.email]: clear problems by key, and a valid table loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.config import ConfigError, parse_config
from tests.pipeline.conftest import config_text

BASE = config_text(type("Box", (), {"base_url": "https://127.0.0.1:1", "ca_file": ""})(),
                   Path("unused.db"))
GOOD = """
[intake.email]
host = "imap.example.org"
[[intake.email.formats]]
name = "website-form"
from = ["forms@sunrise-recovery.example", "@listings.example"]
subject = "New inquiry"
source = "website-form"
[intake.email.formats.fields]
email = "Email"
phone = "Phone"
"""


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + extra)
    return caught.value.problems


def test_a_valid_table_loads_with_the_contract_defaults() -> None:
    config = parse_config(BASE + GOOD)
    assert config.intake is not None
    box = config.intake.mailbox
    assert (box.port, box.security, box.folder, box.processed_folder, box.review_folder) == (
        993, "tls", "INBOX", "leadrouter-processed", "leadrouter-review")
    assert (box.username_env, box.password_env) == ("INTAKE_IMAP_USERNAME",
                                                    "INTAKE_IMAP_PASSWORD")
    assert box.poll_interval.total_seconds() == 30
    fmt = config.intake.formats[0]
    assert fmt.senders == ("forms@sunrise-recovery.example", "@listings.example")
    assert config.intake.source_property == "hs_analytics_source"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace('from = ["forms@sunrise-recovery.example", "@listings.example"]\n',
                         ""), "intake.email.formats[0].from"),
    (lambda t: t.replace('subject = "New inquiry"', 'subjekt = "New inquiry"'),
     "intake.email.formats[0].subjekt"),
    (lambda t: t.replace('host = "imap.example.org"',
                         'host = "imap.example.org"\nsecurity = "none"'), "loopback"),
    (lambda t: t.replace('email = "Email"\nphone = "Phone"', 'firstname = "First"'),
     "email or a phone"),
    (lambda t: t.replace('from = ["forms@', 'from = ["forms-at-'), "@domain"),
    (lambda t: t.replace('host = "imap.example.org"', 'host = "imap.example.org"\n'
                         'poll_interval = "5 minutes"'), "intake.email.poll_interval"),
    (lambda t: t.split("[[intake.email.formats]]")[0], "intake.email.formats"),
    (lambda t: t.replace('host = "imap.example.org"', 'host = "imap.example.org"\n'
                         'review_folder = "INBOX"'), "must differ"),
    (lambda t: t.replace('host = "imap.example.org"', 'host = "imap.example.org"\n'
                         'auth = "xoauth2"'), "needs oauth_token_url"),
    (lambda t: t.replace('host = "imap.example.org"', 'host = "imap.example.org"\n'
                         'auth = "xoauth2"\noauth_token_env = "T"\n'
                         'oauth_token_url = "http://idp.example/token"'), "https://"),
])
def test_mistakes_are_named_by_key(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    found = problems(change(GOOD))
    assert any(expected in line for line in found), found


def test_check_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "leadrouter.toml"
    path.write_text(BASE + GOOD.replace('host = "imap.example.org"',
                                        'host = "imap.example.org"\nsecurity = "none"\n'
                                        'colour = "blue"'))
    done = subprocess.run([sys.executable, "-m", "sync", "--config", str(path), "check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any("intake.email.colour" in line and "line" in line for line in lines), lines
    assert "Traceback" not in done.stderr


def test_the_documented_example_section_loads() -> None:
    """config.example.toml's commented [intake.email] example, uncommented, is valid."""
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
    start = example.index("# [intake.email]")
    lines = []
    for line in example[start:].splitlines():
        if not line.startswith("#"):
            if line.strip():
                continue  # a continued comment of the line above
            break
        if line.startswith("# oauth_"):
            continue  # alternatives for auth = "xoauth2" (files that exist on a server)
        lines.append(line[2:] if line.startswith("# ") else "")
    config = parse_config(BASE + "\n".join(lines))
    assert config.intake is not None
    assert [f.name for f in config.intake.formats] == ["website-form"]
    assert config.intake.formats[0].fields["email"] == "Email"
