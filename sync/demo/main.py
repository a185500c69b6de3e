"""`leadrouter demo`: everything on an embedded default, nothing to configure.

Starts the HubSpot sandbox seeded like config.example.toml, runs the real service
(webhooks + polling, SQLite in a temporary folder, the dashboard at its root URL) on the
demo variant of the example config (`sync/data/demo.toml`: 20-second response deadlines),
streams synthetic leads in, lets coordinators call some of them, and prints one line per
routing, contact attempt and escalation. Ctrl-C (or --duration) stops everything and
removes the temporary files.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

from routing.calendar import compile_schedule, on_shift
from sandbox.hubspot import HubSpotSandbox
from sync.context import StartupError
from sync.demo.actors import Callers, LeadStream
from sync.demo.config import SECRET_ENV, TOKEN_ENV, demo_config
from sync.demo.feed import AuditFeed
from sync.demo.paging import OnCallPerson, Receivers
from sync.logs import configure_logging
from sync.service.runner import Service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _header(out: TextIO, box: HubSpotSandbox, service: Service, per_minute: float) -> None:
    assert service.ctx is not None
    book = service.config.rulebook
    now = service.ctx.clock()
    on = [c for c in book.coordinators if c not in service.ctx.directory.unusable
          and _on_shift(service, c, now)]
    off = [c for c in book.coordinators if c not in on]
    out.write(
        "leadrouter demo: a sandbox HubSpot portal with the example treatment center "
        f"({len(book.coordinators)} coordinators, {len(book.rules)} rules)\n"
        f"  CRM sandbox  {box.base_url}\n"
        f"  service      {service.listen}  (HubSpot webhooks + polling every "
        f"{service.config.service.poll_interval.total_seconds():.0f}s)\n"
        f"  dashboard    {service.listen}/  (open it in a browser: live figures, "
        "refreshed every 30 s)\n"
        f"  metrics      {service.listen}/metrics\n"
        f"  health       {service.listen}/healthz\n"
        "  messages     an SMTP sink, a Slack receiver and a Twilio emulator on loopback: "
        "each coordinator is told on Slack; after hours the on-call person is paged by SMS "
        "with a link to acknowledge (unanswered for 1 min: the next person, then dana)\n"
        "  state        SQLite in a temporary folder, removed at exit\n"
        f"About {per_minute:g} synthetic leads a minute; first contact is due within 20 s "
        "(minutes in real life), then the lead is reassigned, then escalated.\n"
        f"On shift now: {', '.join(on)}. Off shift: {', '.join(off) or 'nobody'}.\n"
        "Press Ctrl-C to stop.\n\n")
    out.flush()


def _on_shift(service: Service, coordinator: str, now: datetime) -> bool:
    schedule = service.config.rulebook.coordinators[coordinator].schedule
    if schedule is None:
        return True
    compiled = compile_schedule(schedule)
    return on_shift(compiled, now.astimezone(compiled.tz))


def run_demo(*, duration: float | None = None, port: int = 8080,
             leads_per_minute: float = 20.0, seed: int | None = None,
             out: TextIO | None = None) -> int:
    out = out or sys.stdout
    configure_logging("console", level=logging.WARNING)
    rng = random.Random(seed)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    port = port or _free_port()
    workdir = tempfile.TemporaryDirectory(prefix="leadrouter-demo-")
    box = HubSpotSandbox().start()
    receivers = Receivers().start()
    service: Service | None = None
    try:
        box.seed_demo()
        config = demo_config(state_db=Path(workdir.name) / "demo.db", base_url=box.base_url,
                             ca_file=box.ca_file, listen=f"127.0.0.1:{port}",
                             receivers=receivers.placeholders())
        secret = secrets.token_hex(16)
        leads = LeadStream(box, leads_per_minute, stop, rng)
        leads.backlog(3)  # arrived before the service started: polling finds them
        service = Service(config, environ={TOKEN_ENV: box.token, SECRET_ENV: secret,
                                           **receivers.environ()})
        try:
            service.start()
        except StartupError as exc:
            raise StartupError(f"{exc} (try `leadrouter demo --port 0`)") from None
        assert service.ctx is not None
        box.subscribe_webhooks(f"{service.listen}/webhooks/hubspot", secret, properties=(),
                               interval=0.05)
        _header(out, box, service, leads_per_minute)
        feed = AuditFeed(service.ctx.store, out, stop)
        callers = Callers(box, leads, stop, rng)
        on_call = OnCallPerson(receivers.twilio, stop, rng, feed.say)
        for thread in (feed, leads, callers, on_call):
            thread.start()
        deadline = time.monotonic() + duration if duration else None
        while not stop.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
        stop.set()
        for thread in (leads, callers, on_call, feed):
            thread.join(3)
        feed.drain()
        out.write(f"\nstopping... {feed.summary()}\n")
        out.flush()
        return 0
    finally:
        stop.set()
        if service is not None:
            service.shutdown(quiet=True)
        box.stop()
        receivers.stop()
        workdir.cleanup()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
