"""The `leadrouter` command (also `python -m sync`).

Exit codes: 0 success, 2 a user mistake (config, input file, arguments), 1 the work could
not be done (CRM unreachable, auth failure). A user mistake never prints a traceback.
Here: the arguments and the error handling; the commands themselves are in `sync.commands`.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence

from state.errors import StoreError
from sync.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from sync.commands.away import cmd_away, cmd_back
from sync.commands.operate import (
    cmd_check,
    cmd_demo,
    cmd_intake_test,
    cmd_run,
    cmd_sandbox,
    cmd_sync,
)
from sync.commands.reports import cmd_explain, cmd_report, cmd_simulate
from sync.config import ConfigError
from sync.context import StartupError

Command = Callable[[argparse.Namespace], int]


def _portal_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--portal", metavar="ID", default=None,
                         help="the portal (a file name in [service] portals, without .toml); "
                              "required when there are several")


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
    _portal_option(sim)
    sim.set_defaults(handler=cmd_simulate)

    sync = commands.add_parser("sync", help="run one full cycle against the CRM and exit")
    sync.add_argument("--once", action="store_true", required=True,
                      help="ingest, route, write owners and tasks, detect contact attempts, "
                           "escalate breached leads; then exit")
    sync.set_defaults(handler=cmd_sync)

    run = commands.add_parser("run", help="the service: scheduler, webhooks, /healthz and "
                              "/metrics until SIGTERM/SIGINT")
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="watch it work: a sandbox CRM, synthetic leads "
                               "and the real service, no setup (Ctrl-C stops)")
    demo.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                      help="stop after this many seconds (default: until Ctrl-C)")
    demo.add_argument("--port", type=int, default=8080,
                      help="where the service listens (default 8080; 0 = any free port)")
    demo.add_argument("--rate", type=float, default=20.0, metavar="LEADS_PER_MINUTE",
                      help="synthetic leads per minute (default 20)")
    demo.add_argument("--seed", type=int, default=None, help="random seed for the leads")
    demo.set_defaults(handler=cmd_demo)

    exp = commands.add_parser("explain", help="print one lead's decision trail")
    exp.add_argument("crm_id", metavar="CRM_ID")
    _portal_option(exp)
    exp.set_defaults(handler=cmd_explain)

    rep = commands.add_parser("report", help="routing performance: speed to lead, SLA, "
                              "coordinators, rules, sources, leads needing a person")
    rep.add_argument("--since", default="7d", metavar="WHEN",
                     help='a duration back from now ("24h", "7d") or an ISO 8601 date-time '
                          "with an offset (default 7d)")
    rep.add_argument("--until", default=None, metavar="WHEN", help="default: now")
    out = rep.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object (the contract's)")
    out.add_argument("--csv", action="store_true",
                     help="one row per lead of the window (ids, times, owner, rule, status)")
    _portal_option(rep)
    rep.set_defaults(handler=cmd_report)

    away = commands.add_parser("away", help="mark a coordinator away: no new leads until "
                               "`back` (or --until)")
    away.add_argument("coordinator", metavar="COORDINATOR", help="a [[coordinators]] id")
    away.add_argument("--until", default=None, metavar="WHEN",
                      help='a duration from now ("2h", "1d") or an ISO 8601 date-time with an '
                           "offset (default: until `leadrouter back`)")
    _portal_option(away)
    away.set_defaults(handler=cmd_away)

    back = commands.add_parser("back", help="end a coordinator's `away`: leads again")
    back.add_argument("coordinator", metavar="COORDINATOR", help="a [[coordinators]] id")
    _portal_option(back)
    back.set_defaults(handler=cmd_back)

    intake = commands.add_parser("intake", help="email intake tools")
    intake_commands = intake.add_subparsers(dest="intake_command", metavar="COMMAND",
                                            required=True)
    sample = intake_commands.add_parser("test", help="show what one message (.eml) would "
                                        "become: format, labels, fields (values masked)")
    sample.add_argument("file", metavar="FILE.eml")
    sample.set_defaults(handler=cmd_intake_test)

    from sandbox import DEFAULT_EMULATOR, EMULATORS  # names only: no emulator is loaded

    box = commands.add_parser("sandbox", help=f"run a {' or '.join(EMULATORS.values())} "
                              "emulator on 127.0.0.1 (HTTPS) for trying leadrouter without a "
                              "CRM")
    box.add_argument("--crm", choices=tuple(EMULATORS), default=DEFAULT_EMULATOR)
    box.add_argument("--seed", default=None, metavar="SPEC",
                     help='"demo" (the example owners) or "demo:N" (plus N contacts)')
    box.add_argument("--port", type=int, default=0, help="0 = any free port")
    box.set_defaults(handler=cmd_sandbox)
    return parser


# CPython's cyclic collector runs a young-generation pass every 700 container allocations
# (by default). A lead's way through the store allocates thousands (rows, records, statement
# parameters), nearly all freed by reference counting, so on a 10,000-lead drain the
# collector ran some 2,000 times for 7% of the CPU (bench/backlog.py). Every 10,000: cycles
# are still collected, only later (the drain's peak memory did not change measurably).
GC_THRESHOLD = (10_000, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLD)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except (StartupError, StoreError) as exc:
        print(f"leadrouter: {exc}", file=sys.stderr)
        return EXIT_FAILED
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
