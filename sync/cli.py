"""The `leadrouter` command (also `python -m sync`).

Exit codes: 0 success, 2 a user mistake (config, input file, arguments), 1 the work could
not be done (CRM unreachable, auth failure). A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from sync.config import Config, ConfigError, default_config_path, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace], int]


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config or default_config_path())


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    rb = config.rulebook
    print(f"{config.source}: ok — {len(rb.coordinators)} coordinators, {len(rb.rules)} rules, "
          f"{len(rb.facilities)} facilities, {len(rb.rotations)} on-call rotations, "
          f"crm {config.crm_kind}")
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from sync.simulate import decision_json, read_leads, simulate
    from sync.simulate_report import Progress, print_summary

    config = _load(args)
    leads = read_leads(Path(args.file), config)
    console = Console(stderr=True)
    if args.json:
        out = sys.stdout
        with Progress(console, len(leads)) as progress:
            for decision, _ in simulate(leads, config):
                out.write(decision_json(decision) + "\n")
                progress.advance()
        return EXIT_OK
    from sync.simulate import Summary

    summary = Summary()
    with Progress(console, len(leads)) as progress:
        for decision, roster in simulate(leads, config):
            summary.add(decision, roster)
            progress.advance()
    print_summary(summary, config, Console())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadrouter",
        description="Give every new lead a named owner, a task, a response clock and an "
                    "escalation.",
    )
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $LEADROUTER_CONFIG, else ./leadrouter.toml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="validate the config and exit")
    check.set_defaults(handler=cmd_check)

    sim = commands.add_parser("simulate", help="dry-run leads from a CSV/JSONL file through "
                              "the rules; no CRM calls, no writes")
    sim.add_argument("file", metavar="FILE", help="CSV or JSONL: id, created_at, and the "
                     "attributes named in [fields]")
    sim.add_argument("--json", action="store_true", help="one JSON object per lead on stdout")
    sim.set_defaults(handler=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # our own user-facing errors carry problems; others are bugs
        problems = getattr(exc, "problems", None)
        if problems is not None:
            for line in problems:
                print(line, file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
