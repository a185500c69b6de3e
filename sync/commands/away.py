"""Coordinator availability from the command line: `leadrouter away` and `back`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sync.commands import EXIT_OK, EXIT_USAGE, portal_config
from sync.config import Config

if TYPE_CHECKING:
    from state import UnitOfWork

T = TypeVar("T")


def _coordinator(config: Config, command: str, ident: str) -> str | None:
    """The coordinator id as configured, or None after saying it is unknown."""
    known = config.rulebook.coordinators
    if ident in known:
        return ident
    print(f"leadrouter {command}: unknown coordinator {ident!r} (the [[coordinators]] ids: "
          f"{', '.join(sorted(known)) or 'none'})", file=sys.stderr)
    return None


def _marked(config: Config, mark: Callable[[UnitOfWork], T]) -> T:
    """`mark` in one short write transaction: fine beside a running service (SQLite WAL,
    PostgreSQL); routing reads the marks at every decision."""
    from state import open_store

    store = open_store(config.service.state_url, portal=config.portal)
    try:
        with store.unit_of_work() as uow:
            out = mark(uow)
            uow.commit()
        return out
    finally:
        store.close()


def cmd_away(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from state.repos.availability import CLI
    from sync.when import parse_until

    config = portal_config(args)
    coordinator = _coordinator(config, "away", args.coordinator)
    if coordinator is None:
        return EXIT_USAGE
    now = datetime.now(UTC)
    until = None
    if args.until:
        try:
            until = parse_until(args.until, now)
        except ValueError as exc:
            print(f"leadrouter away: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if until <= now:
            print("leadrouter away: --until is in the past", file=sys.stderr)
            return EXIT_USAGE
    _marked(config, lambda uow: uow.availability.mark_away(coordinator, CLI, now, until))
    end = until.isoformat(timespec="minutes") if until else f"`leadrouter back {coordinator}`"
    print(f"{coordinator} is away until {end}: no new leads")
    return EXIT_OK


def cmd_back(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from state.repos.availability import CLI, CRM

    config = portal_config(args)
    coordinator = _coordinator(config, "back", args.coordinator)
    if coordinator is None:
        return EXIT_USAGE
    now = datetime.now(UTC)
    was_away, still = _marked(config, lambda uow: (
        uow.availability.mark_back(coordinator, CLI, now),
        CRM in uow.availability.away(now).get(coordinator, set())))
    if not was_away:
        print(f"{coordinator} was not marked away (leadrouter away)")
    else:
        print(f"{coordinator} is back: gets leads again")
    if still:
        print(f"leadrouter back: the CRM still shows {coordinator} away; they get leads once "
              "it shows them available", file=sys.stderr)
    return EXIT_OK
