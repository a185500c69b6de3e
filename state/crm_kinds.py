"""Which CRM kinds the store accepts rows for: the installed connector plugins' names.

Read from the entry-point metadata only (the plugins themselves are not imported), so a new
connector package is accepted once installed, and a typo ("hubspt") never becomes rows.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

GROUP = "leadrouter.connectors"


@cache
def known_crms() -> frozenset[str]:
    return frozenset(ep.name for ep in entry_points(group=GROUP))


def checked_crm(crm: str) -> str:
    """`crm` when a connector of that name is installed; ValueError otherwise."""
    if crm not in known_crms():
        names = ", ".join(sorted(known_crms())) or "none"
        raise ValueError(f"unknown CRM {crm!r} (installed connectors: {names})")
    return crm
