"""`leadrouter run`: scheduler + worker + HTTP server, and a graceful stop.

Threads: the main thread waits for SIGTERM/SIGINT; uvicorn serves HTTP in its own thread
(so the signals stay ours); APScheduler's background thread only *triggers* jobs; one
worker thread runs every pipeline step. On a signal: stop accepting HTTP, stop the
scheduler, let the worker finish the step in flight (or abandon it: the outbox makes that
safe), close the store, exit -- all within `STOP_BUDGET` seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import event

from state import Store, open_store
from sync.config import Config
from sync.context import Context, StartupError, build_context, utc_now
from sync.logs import get_logger
from sync.service.app import Runtime, create_app
from sync.service.metrics import Metrics
from sync.service.worker import Job, Worker

log = get_logger("leadrouter.service")
STOP_BUDGET = 8.0  # seconds; the contract is "exit within 10 s"


def _seconds(value: timedelta) -> float:
    return max(value.total_seconds(), 0.05)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets (else Nagle + delayed
    # ACK add ~40 ms to every response whose headers and body are written separately)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def webhook_store(url: str) -> Store:
    """A second handle on the store for webhook requests. On SQLite its connections do not
    sleep in SQLite's busy handler while the worker holds the write lock (`persist` retries
    every 2 ms instead) and never run the WAL auto-checkpoint (a checkpoint syncs the
    database file; the worker's connections keep doing it)."""
    store = open_store(url, migrate_schema=False)
    if store.dialect == "sqlite":
        @event.listens_for(store.engine, "connect")
        def _webhook_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout = 0")
            dbapi_conn.execute("PRAGMA wal_autocheckpoint = 0")

        store.engine.dispose()  # the connection opened before the listener goes
    return store


class Service:
    def __init__(self, config: Config, *, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now, **connector_options: Any) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.clock = clock
        self.connector_options = connector_options
        self.stop_requested = threading.Event()
        self.ctx: Context | None = None
        self.worker: Worker | None = None
        self.metrics: Metrics | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.inbox: Store | None = None
        self.listen = ""

    # -- start ----------------------------------------------------------------------------
    def start(self) -> Service:
        """Build everything, listen, schedule; StartupError/StoreError say what is wrong."""
        config = self.config
        service = config.service
        sock = _bind(service.listen_host, service.listen_port)
        try:
            ctx = build_context(config, environ=self.environ, clock=self.clock,
                                **self.connector_options)
        except BaseException:
            sock.close()
            raise
        self.ctx = ctx
        try:
            self._start(ctx, sock)
        except BaseException:
            self.shutdown(budget=3.0, quiet=True)
            raise
        return self

    def _start(self, ctx: Context, sock: socket.socket) -> None:
        config, service = self.config, self.config.service
        self.metrics = Metrics(ctx.crm)
        self.metrics.attach(ctx.store, ctx.connector, list(config.rulebook.coordinators))
        self.worker = Worker(ctx, self.metrics)
        worker = self.worker
        ctx.wake = lambda: worker.request(Job.INBOX)
        self.inbox = webhook_store(service.state_url)
        runtime = Runtime(ctx, self.metrics, worker, self._hubspot_secret(),
                          self._salesforce_org(), service.public_url,
                          service.webhook_max_bytes, self.inbox)
        host, port = sock.getsockname()[:2]
        self.listen = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(runtime), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=2, server_header=False, date_header=False))
        self._server_thread = threading.Thread(target=self.server.run,
                                               kwargs={"sockets": [sock]},
                                               name="leadrouter-http", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise StartupError(f"the HTTP server did not start on {self.listen}")
            time.sleep(0.02)
        worker.start()
        self.scheduler = self._schedule(worker)
        self.scheduler.start()
        self._announce(runtime)

    def _hubspot_secret(self) -> str:
        settings = self.config.hubspot
        if self.config.crm_kind != "hubspot" or settings is None:
            return ""
        name = settings.webhook_secret_env
        return self.environ.get(name, "") if name else ""

    def _salesforce_org(self) -> str:
        settings = self.config.salesforce
        if self.config.crm_kind != "salesforce" or settings is None:
            return ""
        return settings.organization_id

    def _schedule(self, worker: Worker) -> BackgroundScheduler:
        service = self.config.service
        scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
        now = datetime.now(UTC)
        jobs = (
            (Job.POLL, service.poll_interval, now),
            (Job.APPLY, service.apply_interval, None),
            (Job.SLA, service.escalation_interval, now),
            (Job.RELEASE, service.escalation_interval, None),
        )
        for job, every, first in jobs:
            seconds = _seconds(every)
            # the job only enqueues a request for the worker; a late one still counts
            # (coalesced into one run), one older than an interval is simply skipped
            options: dict[str, Any] = {"next_run_time": first} if first else {}
            scheduler.add_job(worker.request, "interval", args=[job], id=job.value,
                              name=f"trigger {job.value}", seconds=seconds,
                              max_instances=1, coalesce=True,
                              misfire_grace_time=max(1, int(seconds)), replace_existing=True,
                              **options)
        return scheduler

    def _announce(self, runtime: Runtime) -> None:
        assert self.ctx is not None
        ctx, service = self.ctx, self.config.service
        url = (self.config.hubspot.base_url if ctx.crm == "hubspot" and self.config.hubspot
               else self.config.salesforce.instance_url if self.config.salesforce else "")
        webhooks = []
        if runtime.hubspot_secret:
            webhooks.append(f"{self.listen}/webhooks/hubspot")
        if runtime.salesforce_org:
            webhooks.append(f"{self.listen}/webhooks/salesforce")
        log.info("service.started", crm_kind=ctx.crm, url=url, state=ctx.store.url,
                 owners=len(ctx.directory.owner_of),
                 unusable=dict(ctx.directory.unusable) or None, listen=self.listen,
                 webhooks=webhooks or "off (polling only)",
                 public_url=service.public_url or None,
                 intervals={"poll_s": _seconds(service.poll_interval),
                            "apply_s": _seconds(service.apply_interval),
                            "escalation_s": _seconds(service.escalation_interval)})

    # -- stop -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self.stop_requested.set()

    def wait(self) -> bool:
        """Block until a stop is requested (True) or the HTTP server died (False)."""
        while not self.stop_requested.wait(0.25):
            if self._server_thread is not None and not self._server_thread.is_alive():
                log.error("service.http_stopped", reason="the HTTP server thread ended")
                return False
        return True

    def shutdown(self, budget: float = STOP_BUDGET, *, quiet: bool = False) -> bool:
        """Stop everything; True when the worker finished its step and the store closed."""
        deadline = time.monotonic() + budget
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.server is not None:
            self.server.should_exit = True
        finished = True
        if self.worker is not None:
            finished = self.worker.stop(max(0.5, deadline - time.monotonic() - 0.5))
        if self._server_thread is not None:
            self._server_thread.join(max(0.1, deadline - time.monotonic()))
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None
        ctx, self.ctx = self.ctx, None
        if ctx is not None:
            if finished:
                ctx.close()
            else:  # the in-flight step is abandoned: its outbox rows are retried next start
                log.warning("service.abandoned", reason="the step in flight did not finish "
                            "in time; it resumes at the next start")
        if not quiet:
            log.info("service.stopped", outcome="clean" if finished else "abandoned")
        return finished


def run_service(config: Config) -> int:
    """The `leadrouter run` command body: start, wait for a signal, stop. Exit code."""
    service = Service(config)
    signals = {signal.SIGTERM: signal.getsignal(signal.SIGTERM),
               signal.SIGINT: signal.getsignal(signal.SIGINT)}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if service.stop_requested.is_set():
            os._exit(128 + signum)  # a second signal: stop now
        service.request_stop()

    for signum in signals:
        signal.signal(signum, on_signal)
    try:
        service.start()
        healthy_exit = service.wait()
        service.shutdown()
        return 0 if healthy_exit else 1
    finally:
        for signum, previous in signals.items():
            signal.signal(signum, previous)
