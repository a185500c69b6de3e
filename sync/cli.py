"""The `leadrouter` command (also `python -m sync`).

Exit codes: 0 success, 2 a user mistake (config, input file, arguments), 1 the work could
not be done (CRM unreachable, auth failure). A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from state.errors import StoreError
from sync.config import Config, ConfigError, default_config_path
from sync.config.portals import Deployment, load_deployment
from sync.context import StartupError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace], int]


def _load(args: argparse.Namespace) -> Config:
    """The config of the portal the command is for: `--portal ID`, required when the
    deployment has several (`[service] portals`)."""
    return _deployment(args).portal(getattr(args, "portal", None))


def _deployment(args: argparse.Namespace) -> Deployment:
    return load_deployment(args.config or default_config_path())


def cmd_check(args: argparse.Namespace) -> int:
    for config in _deployment(args).portals.values():  # every portal file is validated
        rb = config.rulebook
        print(f"{config.source}: ok — {len(rb.coordinators)} coordinators, "
              f"{len(rb.rules)} rules, {len(rb.facilities)} facilities, "
              f"{len(rb.rotations)} on-call rotations, crm {config.crm_kind}")
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


def cmd_sync(args: argparse.Namespace) -> int:
    from connectors.base import AuthError
    from sync.context import build_context
    from sync.cycle import run_cycle
    from sync.logs import configure_logging, get_logger

    deployment = _deployment(args)
    configure_logging(deployment.service.log_format)
    if not args.once:
        print("leadrouter sync: only --once is available; use `leadrouter run` for the "
              "service", file=sys.stderr)
        return EXIT_USAGE
    code = EXIT_OK
    for config in deployment.portals.values():  # one portal after the other
        if len(deployment.portals) > 1:
            print(f"portal {config.portal}:")
        ctx = build_context(config)
        try:
            result = run_cycle(ctx)
        except AuthError as exc:
            get_logger("leadrouter").error("cycle.stopped", error=str(exc),
                                           error_type="AuthError", portal=config.portal)
            print(f"leadrouter: {exc}: a person must fix the CRM credentials or scopes",
                  file=sys.stderr)
            code = EXIT_FAILED
            continue
        finally:
            ctx.close()
        code = max(code, _print_cycle(result))
    return code


def _print_cycle(result: Any) -> int:
    r = result
    print(f"sync: {r.ingest.new} new leads ({r.ingest.skipped} skipped), "
          f"{r.routing.routed} routed, {r.routing.held} held, {r.routing.unroutable} "
          f"unroutable; {r.apply.owners_written} owners written, {r.apply.tasks_created} tasks "
          f"created, {r.apply.overridden + r.sla.overridden} overridden; {r.sla.contacted} "
          f"contacted, {r.sla.breached} breached, {r.sla.reassigned} reassigned, "
          f"{r.sla.escalated} escalated to the final owner")
    if r.intake.read:  # email intake ([intake.email]) read messages
        i = r.intake
        print(f"intake: {i.read} emails read, {i.created} records created, {i.existing} "
              f"existing routed, {i.follow_ups} follow-ups, {i.duplicates} already handled, "
              f"{i.review} to review, {i.waiting} waiting")
    if r.failed_steps:
        print(f"leadrouter: the CRM kept failing during: {', '.join(r.failed_steps)}; "
              "pending work is kept and the next cycle resumes it", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from sync.logs import configure_logging
    from sync.service.runner import run_service

    deployment = _deployment(args)
    configure_logging(deployment.service.log_format)
    portals = list(deployment.portals.values())
    return run_service(portals[0], portals)


def cmd_demo(args: argparse.Namespace) -> int:
    from sync.demo import run_demo

    return run_demo(duration=args.duration, port=args.port, leads_per_minute=args.rate,
                    seed=args.seed)


def cmd_explain(args: argparse.Namespace) -> int:
    from state import open_store
    from sync.explain import explain

    config = _load(args)
    store = open_store(config.service.state_url, migrate_schema=False, portal=config.portal)
    try:
        if not explain(store, config.crm_kind, args.crm_id, Console(highlight=False)):
            print(f"leadrouter: lead {args.crm_id} is not in the state store "
                  f"({config.crm_kind})", file=sys.stderr)
            return EXIT_FAILED
    finally:
        store.close()
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from state import open_store
    from sync.report import build_report, parse_when

    config = _load(args)
    now = datetime.now(UTC)
    try:
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        print(f"leadrouter report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if since >= until:
        print("leadrouter report: --since must be before --until", file=sys.stderr)
        return EXIT_USAGE
    store = open_store(config.service.state_url, migrate_schema=False, portal=config.portal)
    try:
        if args.csv:
            from sync.report.export import write_csv

            write_csv(store, since, until, sys.stdout)
            return EXIT_OK
        report = build_report(store, config, since=since, until=until, now=now)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    from sync.report.render import print_report

    print_report(report, Console(highlight=False))
    return EXIT_OK


def _coordinator(config: Config, command: str, ident: str) -> str | None:
    """The coordinator id as configured, or None after saying it is unknown."""
    known = config.rulebook.coordinators
    if ident in known:
        return ident
    print(f"leadrouter {command}: unknown coordinator {ident!r} (the [[coordinators]] ids: "
          f"{', '.join(sorted(known)) or 'none'})", file=sys.stderr)
    return None


def cmd_away(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from state import open_store
    from state.repos.availability import CLI
    from sync.when import parse_until

    config = _load(args)
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
    # a short write transaction: fine beside a running service (SQLite WAL, PostgreSQL);
    # routing reads the marks at every decision
    store = open_store(config.service.state_url, portal=config.portal)
    try:
        with store.unit_of_work() as uow:
            uow.availability.mark_away(coordinator, CLI, now, until)
            uow.commit()
    finally:
        store.close()
    end = until.isoformat(timespec="minutes") if until else f"`leadrouter back {coordinator}`"
    print(f"{coordinator} is away until {end}: no new leads")
    return EXIT_OK


def cmd_back(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from state import open_store
    from state.repos.availability import CLI, CRM

    config = _load(args)
    coordinator = _coordinator(config, "back", args.coordinator)
    if coordinator is None:
        return EXIT_USAGE
    now = datetime.now(UTC)
    store = open_store(config.service.state_url, portal=config.portal)
    try:
        with store.unit_of_work() as uow:
            was_away = uow.availability.mark_back(coordinator, CLI, now)
            still = CRM in uow.availability.away(now).get(coordinator, set())
            uow.commit()
    finally:
        store.close()
    if not was_away:
        print(f"{coordinator} was not marked away (leadrouter away)")
    else:
        print(f"{coordinator} is back: gets leads again")
    if still:
        print(f"leadrouter back: the CRM still shows {coordinator} away; they get leads once "
              "it shows them available", file=sys.stderr)
    return EXIT_OK


def cmd_intake_test(args: argparse.Namespace) -> int:
    from sync.intake.sample import test_sample

    return test_sample(_load(args), Path(args.file), sys.stdout)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import serve

    return serve(args.crm, args.seed, args.port)


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
