"""The read-only commands: simulate (no CRM calls, no writes), explain and report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from sync.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, portal_config


def cmd_simulate(args: argparse.Namespace) -> int:
    from sync.simulate import decision_json, read_leads, simulate
    from sync.simulate_report import Progress, print_summary

    config = portal_config(args)
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


def cmd_explain(args: argparse.Namespace) -> int:
    from state import open_store
    from sync.explain import explain

    config = portal_config(args)
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

    config = portal_config(args)
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
