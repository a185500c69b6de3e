"""The example config, variations of it, and `leadrouter check` run through the real CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text()

SALESFORCE = """
[crm.salesforce]
instance_url = "https://sunrise.my.salesforce.com"
token_env = "SALESFORCE_ACCESS_TOKEN"
object = "Lead"
"""


def broken(old: str, new: str, *, base: str = EXAMPLE) -> str:
    assert old in base, f"the config no longer contains {old!r}"
    return base.replace(old, new, 1)


def salesforce(extra: str = "") -> str:
    """The example switched to Salesforce, with `extra` keys in [crm.salesforce]."""
    return broken('kind = "hubspot"', 'kind = "salesforce"') + SALESFORCE + extra


@dataclass
class Checked:
    code: int
    stdout: str
    stderr: str
    text: str

    def problem(self, key: str) -> tuple[str, int]:
        """The one problem line naming `key`, and the line number it gives."""
        lines = [line for line in self.stderr.splitlines() if line.startswith(f"{key}: ")]
        assert len(lines) == 1, f"expected one problem for {key}:\n{self.stderr}"
        found = re.search(r"\(line (\d+)\)$", lines[0])
        assert found, f"no line number in {lines[0]!r}"
        return lines[0], int(found.group(1))

    def source_line(self, number: int) -> str:
        return self.text.splitlines()[number - 1]


def check(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Checked:
    """`leadrouter --config FILE check` through the CLI's entry point."""
    path = tmp_path / "leadrouter.toml"
    path.write_text(text)
    capsys.readouterr()
    code = main(["--config", str(path), "check"])
    out = capsys.readouterr()
    return Checked(code, out.out, out.err, text)
