"""Every duration and number in the config is bounded: a value out of range is one problem
naming its key and line, exit 2, never a traceback and never a crash later in routing."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pytest

from connectors.plugin import SettingsModel, number, span, whole
from sync.cli import main
from sync.config import parse_duration
from sync.config.reader import LineIndex, Problems
from tests.config.examples import EXAMPLE, ROOT, broken, check, salesforce

NINES = "9" * 400

# (case, config text, key, message pattern); the problem's line must show the key
CASES = [
    # the two reported crashes: a rule's SLA past what routing can add to a date
    ("rule-sla-9000000d", broken('sla = "15m"', 'sla = "9000000d"'), "rules[2].sla",
     r'"9000000d" is longer than the maximum of 30d'),
    ("rule-sla-99999999999d", broken('sla = "15m"', 'sla = "99999999999d"'), "rules[2].sla",
     r'"99999999999d" is longer than the maximum of 30d'),
    ("rule-sla-400-digits", broken('sla = "15m"', f'sla = "{NINES}d"'), "rules[2].sla",
     r"is longer than the maximum of 30d"),
    ("rule-sla-zero", broken('sla = "15m"', 'sla = "0s"'), "rules[2].sla",
     r'"0s" is shorter than the minimum of 1s'),
    ("rule-sla-31d", broken('sla = "15m"', 'sla = "31d"'), "rules[2].sla",
     r'"31d" is longer than the maximum of 30d'),
    ("default-sla", broken('default_sla = "5m"', 'default_sla = "9000000d"'),
     "routing.default_sla", r"is longer than the maximum of 30d"),
    ("backfill", broken('backfill = "24h"', 'backfill = "91d"'), "service.backfill",
     r'"91d" is longer than the maximum of 90d'),
    # the window also bounds which leads are routed at all: zero would route none
    ("backfill-zero", broken('backfill = "24h"', 'backfill = "0s"'), "service.backfill",
     r'"0s" is shorter than the minimum of 1h'),
    ("poll-interval-long", broken('poll_interval = "30s"', 'poll_interval = "2d"'),
     "service.poll_interval", r"is longer than the maximum of 1d"),
    ("poll-interval-short", broken('poll_interval = "30s"', 'poll_interval = "500ms"'),
     "service.poll_interval", r'"500ms" is shorter than the minimum of 1s'),
    ("escalation-interval-long", broken('escalation_interval = "1m"',
                                        'escalation_interval = "25h"'),
     "service.escalation_interval", r"is longer than the maximum of 1d"),
    ("escalation-interval-short", broken('escalation_interval = "1m"',
                                         'escalation_interval = "10ms"'),
     "service.escalation_interval", r"is shorter than the minimum of 100ms"),
    ("apply-interval", broken('apply_interval = "5s"', 'apply_interval = "2h"'),
     "service.apply_interval", r"is longer than the maximum of 1h"),
    ("claim-lease-long", broken('claim_lease = "2m"', 'claim_lease = "2d"'),
     "service.claim_lease", r"is longer than the maximum of 1d"),
    ("claim-lease-short", broken('claim_lease = "2m"', 'claim_lease = "100ms"'),
     "service.claim_lease", r"is shorter than the minimum of 1s"),
    ("webhook-max-bytes", broken("webhook_max_bytes = 1048576",
                                 "webhook_max_bytes = 1073741824"),
     "service.webhook_max_bytes", r"must be at most 16777216, not 1073741824"),
    ("webhook-max-bytes-huge", broken("webhook_max_bytes = 1048576",
                                      f"webhook_max_bytes = {'9' * 4000}"),
     "service.webhook_max_bytes", r"must be at most 16777216, not 9+\.\.\. \(line"),
    ("webhook-max-bytes-inf", broken("webhook_max_bytes = 1048576", "webhook_max_bytes = inf"),
     "service.webhook_max_bytes", r"must be a whole number, not inf"),
    ("requests-per-10s", broken("requests_per_10s = 190", "requests_per_10s = 100000"),
     "crm.hubspot.requests_per_10s", r"must be at most 1000, not 100000"),
    ("searches-per-second", broken("searches_per_second = 5", "searches_per_second = 1000"),
     "crm.hubspot.searches_per_second", r"must be at most 50, not 1000"),
    ("hubspot-poll-overlap", broken('poll_overlap = "2m"', 'poll_overlap = "2h"'),
     "crm.hubspot.poll_overlap", r"is longer than the maximum of 1h"),
    ("hubspot-timeout", broken('poll_overlap = "2m"', 'poll_overlap = "2m"\ntimeout = "1h"'),
     "crm.hubspot.timeout", r"is longer than the maximum of 10m"),
    ("max-reassignments", broken("max_reassignments = 2", "max_reassignments = 1000"),
     "escalation.max_reassignments", r"must be at most 20, not 1000"),
    ("max-reassignments-huge", broken("max_reassignments = 2",
                                      "max_reassignments = 99999999999999999999999"),
     "escalation.max_reassignments", r"must be at most 20, not 9{10}"),
    ("capacity", broken("capacity = 25", "capacity = 1000000"), "coordinators[0].capacity",
     r"must be at most 10000, not 1000000"),
    ("capacity-negative", broken("capacity = 25", "capacity = -1"), "coordinators[0].capacity",
     r"must be at least 0, not -1"),
    ("capacity-nan", broken("capacity = 25", "capacity = nan"), "coordinators[0].capacity",
     r"must be a whole number, not nan"),
    ("weight", broken("weight = 2", "weight = 100000"), "coordinators[0].weight",
     r"must be at most 1000, not 100000"),
    ("weight-inf", broken("weight = 2", "weight = inf"), "coordinators[0].weight",
     r"must be a whole number, not inf"),
    ("on-call-period-long", broken('period = "7d"', 'period = "400d"'), "on_call[0].period",
     r"is longer than the maximum of 366d"),
    ("on-call-period-short", broken('period = "7d"', 'period = "1m"'), "on_call[0].period",
     r"is shorter than the minimum of 1h"),
    ("on-call-starts-year-1", broken("starts = 2026-01-05T18:00:00-08:00",
                                     "starts = 0001-01-01T00:00:00+05:00"),
     "on_call[0].starts", r"must be between 2000-01-01 and 2100-12-31"),
    ("on-call-starts-year-9999", broken("starts = 2026-01-05T18:00:00-08:00",
                                        "starts = 9999-12-31T23:59:59-08:00"),
     "on_call[0].starts", r"must be between 2000-01-01 and 2100-12-31"),
    ("pto-from-year-1", broken("from = 2026-12-21", "from = 0001-01-01"),
     "coordinators[0].pto[0]", r"0001-01-01 is not between 2000-01-01 and 2100-12-31"),
    ("pto-to-year-9999", broken("to = 2026-12-28", "to = 9999-12-31"),
     "coordinators[0].pto[0]", r"9999-12-31 is not between 2000-01-01 and 2100-12-31"),
    ("extra-holiday-year-9999", broken('"2026-12-31"]', '"9999-12-31"]'),
     "schedules.pasadena_days.extra_holidays[1]",
     r"9999-12-31 is not between 2000-01-01 and 2100-12-31"),
    ("listen-port", broken('listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:70000"'),
     "service.listen", r'"127.0.0.1:70000" is not HOST:PORT'),
    ("salesforce-api-reserve", salesforce("api_reserve = 100000000000\n"),
     "crm.salesforce.api_reserve", r"must be at most 10000000, not 100000000000"),
    ("salesforce-poll-overlap", salesforce('poll_overlap = "1d"\n'),
     "crm.salesforce.poll_overlap", r"is longer than the maximum of 1h"),
    ("salesforce-timeout", salesforce('timeout = "10ms"\n'), "crm.salesforce.timeout",
     r"is shorter than the minimum of 1s"),
    ("salesforce-api-version", salesforce('api_version = "99999999999.0"\n'),
     "crm.salesforce.api_version", r'"99999999999.0" is not an API version like "59.0"'),
]
KEY_ON_LINE = {"coordinators[0].pto[0]": "pto", "service.listen": "listen"}


@pytest.mark.parametrize(("text", "key", "pattern"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_out_of_range_value_is_refused_by_key_and_line(
        text: str, key: str, pattern: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    result = check(text, tmp_path, capsys)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line, number = result.problem(key)
    assert re.search(pattern, line), line
    name = KEY_ON_LINE.get(key) or re.sub(r"\[\d+\]$", "", key).rsplit(".", 1)[-1]
    assert re.match(rf"\s*{re.escape(name)}\s*=", result.source_line(number)), (
        line, result.source_line(number))
    assert len(line) < 300, "a problem line stays readable, whatever the value"


@pytest.mark.parametrize("case", ["rule-sla-99999999999d", "webhook-max-bytes-huge",
                                  "on-call-starts-year-1"])
def test_check_subprocess_exits_2_without_traceback(case: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    text, key, _ = {c[0]: c[1:] for c in CASES}[case]
    path = tmp_path / "leadrouter.toml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "sync", "--config", str(path), "check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"{key}: "), result.stderr


def test_integer_too_long_for_python_is_a_toml_problem_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = broken("capacity = 25", f"capacity = {'9' * 5000}")
    result = check(text, tmp_path, capsys)
    assert result.code == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "not valid TOML" in line and "too many digits" in line, line
    number = int(re.search(r"line (\d+)", line).group(1))  # type: ignore[union-attr]
    assert result.source_line(number).startswith("capacity = 999")
    assert len(line) < 300


def test_values_at_every_limit_still_route(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The maxima are safe: leads route (wall and business clock) with a 30-day SLA, a
    year-long rotation, and the largest capacity and weight."""
    text = EXAMPLE
    for old, new in [('default_sla = "5m"', 'default_sla = "30d"'),
                     ('sla = "15m"', 'sla = "30d"'), ('sla = "5m"', 'sla = "30d"'),
                     ('period = "7d"', 'period = "366d"'), ('backfill = "24h"', 'backfill = "90d"'),
                     ("capacity = 25", "capacity = 10000"), ("weight = 2", "weight = 1000")]:
        text = broken(old, new, base=text)
    leads = tmp_path / "leads.csv"
    leads.write_text("\n".join((ROOT / "sandbox/data/sample-leads.csv").read_text()
                               .splitlines()[:80]) + "\n")
    for clock in ("wall", "business"):
        config = tmp_path / f"{clock}.toml"
        config.write_text(broken('sla_clock = "wall"', f'sla_clock = "{clock}"', base=text))
        capsys.readouterr()
        code = main(["--config", str(config), "check"])
        assert code == 0, capsys.readouterr().err
        capsys.readouterr()
        assert main(["--config", str(config), "simulate", str(leads), "--json"]) == 0
        decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(decisions) == 79
        assert {d["status"] for d in decisions} <= {"assigned", "held", "unroutable"}
        assert any(d["status"] == "assigned" for d in decisions)


# --- the mechanism: the bounded types every key is declared with ----------------------------

class Bounded(SettingsModel):
    x: Annotated[float, number(0.0, 100.0)] = 1.0


class Unbounded(SettingsModel):
    """Keys declared without bounds of their own: the default maxima still apply."""

    x: Annotated[float, number()] = 1.0
    n: Annotated[int, whole()] = 1
    d: Annotated[timedelta, span()] = timedelta(days=1)


def validated(kind: type[SettingsModel], **values: object
              ) -> tuple[SettingsModel | None, Problems]:
    problems = Problems(LineIndex(""))
    return problems.validate(kind, dict(values), "t"), problems


@pytest.mark.parametrize("text", ["9000000d", "99999999999d", f"{NINES}d", "367d",
                                  f"{NINES}.{NINES}ms"])
def test_parse_duration_refuses_beyond_a_year_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="is longer than the maximum of 366d"):
        parse_duration(text)


def test_parse_duration_keeps_working_within_bounds() -> None:
    assert parse_duration("366d") == timedelta(days=366)
    assert parse_duration("30d", maximum=timedelta(days=30)) == timedelta(days=30)
    with pytest.raises(ValueError, match="maximum of 1d"):
        parse_duration("25h", maximum=timedelta(days=1))


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300, 10**30, -5])
def test_number_refuses_non_finite_and_out_of_range(value: float) -> None:
    result, problems = validated(Bounded, x=value)
    assert result is None  # nothing after validation ever sees the bad value
    assert len(problems.items) == 1 and problems.items[0].path == "t.x", problems.items


def test_number_and_integer_have_an_upper_bound_by_default() -> None:
    result, problems = validated(Unbounded, x=1e12, n=10**12, d="400d")
    assert result is None
    assert [p.path for p in problems.items] == ["t.x", "t.n", "t.d"]
    assert validated(Unbounded)[0] == Unbounded(x=1.0, n=1, d=timedelta(days=1))


@pytest.mark.parametrize(("value", "pattern"), [
    (f'"{"x" * 129}"', r"longer than 128 characters can never match"),
    ('["spanish", "(other)"]', r'"\(other\)" is what leadrouter stores'),
], ids=["too-long", "the-other-marker"])
def test_a_condition_value_the_store_could_never_hold_is_refused(
        value: str, pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the store keeps a lead's value only as a listed value, or as "(other)"
    text = broken('when = { language = "spanish" }', f"when = {{ language = {value} }}")
    result = check(text, tmp_path, capsys)
    assert result.code == 2 and "Traceback" not in result.stderr
    line = next(n for n, text_line in enumerate(text.splitlines(), 1)
                if text_line.startswith("when = { language"))
    assert re.search(r"rules\[0\]\.when\.language: .*" + pattern + rf".*\(line {line}\)",
                     result.stdout + result.stderr)
