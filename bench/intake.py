"""Email intake speed: messages per second from IMAP to a routed CRM record.

A real Dovecot on loopback (Debian's `dovecot-imapd`, as the tests start it) holds N lead
notification emails (text and HTML, UTF-8 and ISO-8859-1, quoted-printable); the HubSpot or
Salesforce sandbox is the CRM; the state store is a SQLite file. One `sync --once` cycle
reads them all, creates the records, routes them, writes owners and tasks, and moves the
messages to the processed folder.

    .venv/bin/python bench/intake.py [--messages 200] [--crm hubspot|salesforce]

Prints the messages, the cycle's wall time and messages per second (read -> created ->
routed -> owner and task written -> moved).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

# bench/routing.py is named like the routing package: keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from pathlib import Path  # noqa: E402

from sandbox.hubspot import HubSpotSandbox  # noqa: E402
from sandbox.salesforce import SalesforceSandbox  # noqa: E402
from sync.config import parse_config  # noqa: E402
from sync.context import build_context  # noqa: E402
from sync.pipeline import run_once  # noqa: E402
from tests.intake.conftest import HUBSPOT_FIELDS, SALESFORCE_FIELDS, intake_section  # noqa: E402
from tests.intake.dovecot import Dovecot  # noqa: E402
from tests.intake.messages import Person, html_message, text_message  # noqa: E402
from tests.pipeline.conftest import config_text, lead_rows, sf_config_text  # noqa: E402

KINDS = (
    lambda p: text_message(p),
    lambda p: text_message(p, charset="iso-8859-1", cte="quoted-printable"),
    lambda p: html_message(p, cte="quoted-printable"),
    lambda p: html_message(p, charset="iso-8859-1"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--crm", choices=("hubspot", "salesforce"), default="hubspot")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="leadrouter-bench-intake-"))
    try:
        return _bench(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _bench(args: argparse.Namespace, folder: Path) -> int:
    with Dovecot() as server:
        os.environ.update(server.environ())
        for i in range(args.messages):
            server.deliver(KINDS[i % 4](Person(1000 + i, "commercial" if i % 2 else "medicaid")))
        if args.crm == "hubspot":
            with HubSpotSandbox() as box:
                box.seed_demo()
                text = config_text(box, folder / "state.db") + intake_section(
                    server, HUBSPOT_FIELDS, extra=f"batch = {args.messages}")
                environ = {"HUBSPOT_TOKEN": box.token}
                return _run(text, environ, server, args.messages)
        with SalesforceSandbox() as sf_box:
            sf_box.seed_demo()
            text = sf_config_text(sf_box, folder / "state.db") + intake_section(
                server, SALESFORCE_FIELDS, extra=f"batch = {args.messages}")
            return _run(text, {"SALESFORCE_ACCESS_TOKEN": sf_box.token}, server, args.messages)


def _run(text: str, environ: dict[str, str], server: Dovecot, count: int) -> int:
    ctx = build_context(parse_config(text), environ=environ)
    try:
        started = time.perf_counter()
        result = run_once(ctx)
        elapsed = time.perf_counter() - started
        routed = sum(1 for row in lead_rows(ctx).values() if row.status == "task_created")
    finally:
        ctx.close()
    moved = server.folder_count("leadrouter-processed")
    print(f"messages: {count}  created: {result.intake.created}  routed with task: {routed}  "
          f"moved: {moved}")
    print(f"wall time: {elapsed:.2f} s  ->  {count / elapsed:.1f} messages/s "
          f"(IMAP read -> CRM record -> routed -> owner + task written -> moved)")
    return 0 if routed == count == moved else 1


if __name__ == "__main__":
    sys.exit(main())
