"""Connectors are plugins: found by entry point, loaded only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from connectors.plugin import ConnectorPlugin

GROUP = "leadrouter.connectors"


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def plugin(kind: str) -> ConnectorPlugin:
    """The plugin registered for `kind`; LookupError naming what exists otherwise."""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == kind]
    if not matches:
        names = ", ".join(available()) or "none"
        raise LookupError(f'no connector named "{kind}" is installed (available: {names})')
    found = matches[0].load()
    if not isinstance(found, ConnectorPlugin):
        raise TypeError(f'entry point "{kind}" in {GROUP} is not a ConnectorPlugin')
    return found


def connector_factory(kind: str) -> Callable[..., Any]:
    """The factory of the plugin registered for `kind` (see `plugin`)."""
    return plugin(kind).create
