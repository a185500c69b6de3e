"""`leadrouter away` / `back` as a user runs them, against a config and a SQLite file; the
real pipeline reads the marks at its next routing; `explain` shows the reason."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from sync.config import load_config
from sync.context import Context, build_context
from sync.cycle import run_cycle
from sync.pipeline import Job
from sync.when import parse_until
from tests.pipeline.conftest import write_config

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004"}
MARIA = "1001"  # "commercial": round robin over maria, li, devon, aisha, carlos



def leadrouter(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def context(box: HubSpotSandbox, config: Path, shift: timedelta = timedelta()) -> Context:
    return build_context(load_config(config), environ={"HUBSPOT_TOKEN": box.token},
                         clock=lambda: datetime.now(UTC) + shift)


def route_ten(box: HubSpotSandbox, ctx: Context) -> tuple[list[str], Counter[str], set[Job]]:
    ids = [box.create_contact(dict(PROPS)) for _ in range(10)]
    result = run_cycle(ctx)
    assert result.routing.routed == 10 and not result.failed_steps
    owners = Counter(str(box.contact(i)["properties"].get("hubspot_owner_id")) for i in ids)
    return ids, owners, set(result.follow_up)


def test_away_then_back_from_the_command_line(box: HubSpotSandbox, tmp_path: Path) -> None:
    config = write_config(box, tmp_path)
    done = leadrouter(config, "away", "maria", "--until", "2h")
    assert done.returncode == 0, done.stderr
    assert "maria is away until" in done.stdout

    ctx = context(box, config)
    try:
        ids, owners, _ = route_ten(box, ctx)
        assert owners[MARIA] == 0 and len(owners) == 4
        shown = leadrouter(config, "explain", ids[0])
        assert shown.returncode == 0, shown.stderr
        assert "skipped [maria]: away (marked away)" in shown.stdout

        done = leadrouter(config, "back", "maria")
        assert done.returncode == 0, done.stderr
        assert "maria is back" in done.stdout
        ids, owners, asked = route_ten(box, ctx)
        assert owners[MARIA] == 2  # joins the rotation where it stands: one turn per round
        assert Job.RELEASE in asked  # the return retries leads that found nobody
        assert "away" not in leadrouter(config, "explain", ids[-1]).stdout

        again = leadrouter(config, "back", "maria")
        assert again.returncode == 0 and "was not marked away" in again.stdout
    finally:
        ctx.close()


def test_an_until_that_passed_ends_the_away(box: HubSpotSandbox, tmp_path: Path) -> None:
    config = write_config(box, tmp_path)
    assert leadrouter(config, "away", "maria", "--until", "1h").returncode == 0
    now = context(box, config)
    try:
        _, owners, _ = route_ten(box, now)
        assert owners[MARIA] == 0
    finally:
        now.close()
    later = context(box, config, shift=timedelta(hours=2))  # the same store, 2 h on
    try:
        _, owners, asked = route_ten(box, later)
        assert owners[MARIA] == 2 and Job.RELEASE in asked
    finally:
        later.close()


def test_away_without_until_lasts_until_back(box: HubSpotSandbox, tmp_path: Path) -> None:
    config = write_config(box, tmp_path)
    done = leadrouter(config, "away", "maria")
    assert done.returncode == 0 and "leadrouter back maria" in done.stdout
    later = context(box, config, shift=timedelta(hours=20))  # within the 24 h backfill
    try:
        _, owners, _ = route_ten(box, later)
        assert owners[MARIA] == 0
    finally:
        later.close()


@pytest.mark.parametrize(("args", "message"), [
    (("away", "nobody"), "unknown coordinator 'nobody'"),
    (("back", "nobody"), "unknown coordinator 'nobody'"),
    (("away", "maria", "--until", "2020-01-01T00:00:00+00:00"), "--until is in the past"),
    (("away", "maria", "--until", "soon"), "neither a duration"),
    (("away", "maria", "--until", "2030-01-01T00:00:00"), "no UTC offset"),
])
def test_mistakes_exit_2_with_a_clear_message(box: HubSpotSandbox, tmp_path: Path,
                                               args: tuple[str, ...], message: str) -> None:
    config = write_config(box, tmp_path)
    done = leadrouter(config, *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert "maria" in done.stderr or args[1] == "maria"


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW + timedelta(minutes=30)),
    ("2h", NOW + timedelta(hours=2)),
    (" 1d ", NOW + timedelta(days=1)),
    ("2w", NOW + timedelta(weeks=2)),
    ("2026-12-01T09:00:00-07:00", datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
    ("2026-12-01T09:00:00+00:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
])
def test_when_is_read_forward_from_now(text: str, expected: datetime) -> None:
    moment = parse_until(text, NOW)
    assert moment == expected and moment.utcoffset() is not None


@pytest.mark.parametrize("text", ["", "h", "2", "-2h", "2y", "tomorrow", "2026-12-01T09:00"])
def test_when_that_is_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_until(text, NOW)


def test_an_offset_is_kept_as_given() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert parse_until("2026-12-01T09:00:00-05:00", NOW).tzinfo == eastern
