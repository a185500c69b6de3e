"""The commands that check or run the router: check, sync, run, demo, intake test, sandbox."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sync.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, deployment_of, portal_config


def cmd_check(args: argparse.Namespace) -> int:
    for config in deployment_of(args).portals.values():  # every portal file is validated
        rb = config.rulebook
        print(f"{config.source}: ok — {len(rb.coordinators)} coordinators, "
              f"{len(rb.rules)} rules, {len(rb.facilities)} facilities, "
              f"{len(rb.rotations)} on-call rotations, crm {config.crm_kind}")
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from connectors.base import AuthError
    from sync.context import build_context
    from sync.cycle import run_cycle
    from sync.logs import configure_logging, get_logger

    deployment = deployment_of(args)
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

    deployment = deployment_of(args)
    configure_logging(deployment.service.log_format)
    portals = list(deployment.portals.values())
    return run_service(portals[0], portals)


def cmd_demo(args: argparse.Namespace) -> int:
    from sync.demo import run_demo

    return run_demo(duration=args.duration, port=args.port, leads_per_minute=args.rate,
                    seed=args.seed)


def cmd_intake_test(args: argparse.Namespace) -> int:
    from sync.intake.sample import test_sample

    return test_sample(portal_config(args), Path(args.file), sys.stdout)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import serve

    return serve(args.crm, args.seed, args.port)
