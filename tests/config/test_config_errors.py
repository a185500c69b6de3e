"""Broken configs: every mistake is reported at once, naming its key (and line), exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sync.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text()


def broken(old: str, new: str, count: int = 1) -> str:
    assert old in EXAMPLE, f"the example config no longer contains {old!r}"
    return EXAMPLE.replace(old, new, count)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


CASES = [
    ("unknown-team-in-pool", broken('pool = { teams = ["vob"] }', 'pool = { teams = ["vobb"] }'),
     r'^rules\[1\]\.pool\.teams: no coordinator is in team "vobb" \(line \d+\)$'),
    ("typo-in-key-is-not-ignored", broken("poll_interval =", "pol_interval ="),
     r"^service\.pol_interval: unknown key \(line \d+\)$"),
    ("bad-duration", broken('default_sla = "5m"', 'default_sla = "5 minutes"'),
     r'^routing\.default_sla: "5 minutes" is not a duration'),
    ("secret-pasted-instead-of-env-name",
     broken('token_env = "HUBSPOT_TOKEN"', 'token_env = "pat-na1-1234-abcd"'),
     r"^crm\.hubspot\.token_env: must be the NAME of an environment variable"),
    ("unknown-strategy", broken('strategy = "least_loaded"', 'strategy = "fastest"'),
     r'^rules\[0\]\.strategy: "fastest" is not one of: round_robin'),
    ("bad-time-zone", broken('timezone = "America/Phoenix"', 'timezone = "Mars/Olympus"'),
     r'^schedules\.phoenix_days\.timezone: "Mars/Olympus" is not an IANA time zone'),
    ("unknown-fallback-owner", broken('fallback_owner = "dana"', 'fallback_owner = "danna"'),
     r'^routing\.fallback_owner: no coordinator has id "danna"'),
    ("capacity-not-a-number", broken("capacity = 25", 'capacity = "lots"'),
     r"^coordinators\[0\]\.capacity: must be a whole number"),
    ("unknown-schedule", broken('schedule = "phoenix_days"', 'schedule = "phx"'),
     r'^coordinators\[4\]\.schedule: no schedule is named "phx"'),
    ("condition-on-unmapped-attribute", broken('when = { language = "spanish" }',
                                               'when = { lang = "spanish" }'),
     r'^rules\[0\]\.when\.lang: "lang" is not a lead attribute named in \[fields\]'),
    ("on-call-without-rotation", broken('on_call = "nights"\nfallback = "dana"',
                                        'fallback = "dana"'),
     r'^rules\[0\]\.on_call: is required when after_hours = "on_call"'),
    ("unknown-rotation", broken('on_call = "nights"', 'on_call = "weekends"'),
     r'^rules\[0\]\.on_call: no on_call rotation is named "weekends"'),
    ("bad-crm-kind", broken('kind = "hubspot"', 'kind = "pipedrive"'),
     r'^crm\.kind: "pipedrive" is not one of: hubspot, salesforce'),
    ("bad-listen", broken('listen = "127.0.0.1:8080"', 'listen = "8080"'),
     r'^service\.listen: "8080" is not HOST:PORT'),
    ("unknown-facility-zip", broken('zip = "85004"', 'zip = "00000"'),
     r'^facilities\[1\]\.zip: "00000" is not a known US ZIP code'),
    ("night-shift-not-split", broken('start = "15:00", end = "23:00"',
                                     'start = "23:00", end = "07:00"'),
     r"^schedules\.pasadena_evenings\.hours\[0\]\.end: must be after start"),
    ("pto-ends-before-start", broken("pto = [{ from = 2026-12-21, to = 2026-12-28 }]",
                                     "pto = [{ from = 2026-12-21, to = 2026-12-01 }]"),
     r"^coordinators\[0\]\.pto\[0\]: ends before it starts"),
    ("task-subject-with-phi", broken('subject = "Call new lead {lead_id} within {sla}"',
                                     'subject = "Call {firstname} within {sla}"'),
     r"^routing\.task\.subject: may use only \{lead_id\}, \{owner\}, \{rule\}, \{sla\}"),
    ("unknown-holiday-country", broken('holidays = "US"\nholidays_subdivision = "AZ"',
                                       'holidays = "XX"'),
     r"^schedules\.phoenix_days\.holidays: Country XX not available"),
    ("duplicate-coordinator", broken('id = "li"', 'id = "maria"'),
     r'^coordinators\[1\]\.id: "maria" is used by another coordinator'),
    ("final-owner-unknown", broken('final_owner = "dana"', 'final_owner = "boss"'),
     r'^escalation\.final_owner: no coordinator has id "boss"'),
    ("coordinator-without-owner", broken('crm_owner_id = "1009"\n', ""),
     r"^coordinators\[8\]: needs crm_owner_id or email"),
]


@pytest.mark.parametrize(("text", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_config_names_the_key(text: str, pattern: str) -> None:
    problems = problems_of(text)
    assert any(re.search(pattern, line) for line in problems), problems


def test_every_problem_is_reported_in_one_run() -> None:
    text = broken('pool = { teams = ["vob"] }', 'pool = { teams = ["vobb"] }')
    text = text.replace("poll_interval =", "pol_interval =").replace(
        'default_sla = "5m"', 'default_sla = "soon"')
    problems = problems_of(text)
    assert len(problems) == 3, problems


def test_line_numbers_point_at_the_offending_line() -> None:
    text = broken("capacity = 25", 'capacity = "lots"')
    (line,) = [p for p in problems_of(text) if p.startswith("coordinators[0].capacity")]
    number = int(re.search(r"line (\d+)", line).group(1))  # type: ignore[union-attr]
    assert 'capacity = "lots"' in text.splitlines()[number - 1]


def test_not_toml_at_all_is_one_clear_problem() -> None:
    problems = problems_of('[service\nstate_url = "x"')
    assert len(problems) == 1 and "not valid TOML" in problems[0] and "line" in problems[0]


def test_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.crm_kind == "hubspot"
    assert len(config.rulebook.coordinators) == 9
    assert config.rulebook.rules[0].name == "spanish-speaking"
    assert config.rulebook.facilities["phoenix"].levels_of_care == {
        "residential", "php", "iop", "outpatient"}


@pytest.mark.parametrize("case", [c[0] for c in CASES[:10]])
def test_check_command_exits_2_without_traceback(tmp_path: Path, case: str) -> None:
    text, pattern = {c[0]: c[1:] for c in CASES}[case]
    path = tmp_path / "leadrouter.toml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "sync", "--config", str(path), "check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert any(re.search(pattern, line) for line in result.stderr.splitlines()), result.stderr


def test_check_accepts_the_example(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sync", "--config",
                             str(ROOT / "config.example.toml"), "check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "9 coordinators, 6 rules" in result.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sync", "--config",
                             str(tmp_path / "nope.toml"), "check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no such config file" in result.stderr
