"""The demo's configuration: `sync/data/demo.toml` filled in for this run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sync.config import Config, parse_config

TOKEN_ENV = "LEADROUTER_DEMO_TOKEN"
SECRET_ENV = "LEADROUTER_DEMO_WEBHOOK_SECRET"


def demo_timezone(now: datetime) -> str:
    """A fixed-offset zone where it is around noon right now (Etc/GMT signs are inverted)."""
    offset = 12 - now.astimezone(UTC).hour  # -11 .. +12 hours east of UTC
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def demo_config_text(*, state_db: Path, base_url: str, ca_file: str, listen: str,
                     receivers: Mapping[str, str], now: datetime | None = None) -> str:
    """`receivers`: the message receivers' placeholders (`Receivers.placeholders`)."""
    template = resources.files("sync").joinpath("data/demo.toml").read_text(encoding="utf-8")
    values = {
        "@STATE_URL@": f"sqlite:///{state_db}",
        "@LISTEN@": listen,
        "@BASE_URL@": base_url,
        "@CA_BUNDLE@": ca_file,
        "@TIMEZONE@": demo_timezone(now or datetime.now(UTC)),
        # local time is 12:xx: the on-shift team works 06-20, the off-shift team 21-23
        "@ON_START@": "06:00", "@ON_END@": "20:00",
        "@OFF_START@": "21:00", "@OFF_END@": "23:00",
        **receivers,
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def demo_config(**options: object) -> Config:
    return parse_config(demo_config_text(**options))  # type: ignore[arg-type]
