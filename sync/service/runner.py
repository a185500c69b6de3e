"""`leadrouter run`: scheduler + worker + HTTP server, and a graceful stop.

Threads: the main thread waits for SIGTERM/SIGINT; uvicorn serves HTTP in its own thread
(so the signals stay ours); APScheduler's background thread only *triggers* jobs; one
worker thread runs every pipeline step. On a signal: stop accepting HTTP, stop the
scheduler, let the worker finish the step in flight (or abandon it: the outbox makes that
safe), close the store, exit -- all within `STOP_BUDGET` seconds.

HTTP limits (see `protocol.py` and `listen.py`): request head and body deadlines, a
connection cap kept below the open-file limit, small accept bursts, uvicorn's and asyncio's
own log through a per-kind limiter (`serverlog.py`), and optional TLS with client
certificates.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import event

from connectors.base import api_url
from connectors.webhooks import WebhookSetupError, WebhookSource
from state import Store, open_store
from sync.config import Config
from sync.context import Context, StartupError, build_context, utc_now
from sync.logs import get_logger
from sync.service import serverlog
from sync.service.access import dashboard_password
from sync.service.app import PortalWebhooks, Runtime, create_app
from sync.service.intake import EventBudget
from sync.service.listen import (
    ACCEPT_BURST,
    LISTEN_QUEUE,
    bind,
    connection_cap,
    tls_context,
    tls_files,
)
from sync.service.metrics import Metrics
from sync.service.protocol import HttpLimits, guarded_protocol
from sync.service.worker import Job, Worker

log = get_logger("leadrouter.service")
STOP_BUDGET = 8.0  # seconds; the contract is "exit within 10 s"


def _seconds(value: timedelta) -> float:
    return max(value.total_seconds(), 0.05)


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


@dataclass
class Lane:
    """One portal in this process: its context (store handle, connector, rate limiter,
    credentials) and its worker, which runs that portal's steps only."""

    ctx: Context
    worker: Worker
    source: WebhookSource | None = None


class Service:
    def __init__(self, config: Config, *, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 portals: Sequence[Config] = (), **connector_options: Any) -> None:
        """`portals`: every portal's config when there are several (`config` is the first;
        they share `[service]`)."""
        self.config = config
        self.portals = list(portals) or [config]
        self.lanes: list[Lane] = []
        self._contexts: list[Context] = []
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
        self._undo_log: Callable[[], None] | None = None
        self.limits: HttpLimits | None = None
        self.dashboard_password = ""

    # -- start ----------------------------------------------------------------------------
    def start(self) -> Service:
        """Build everything, listen, schedule; StartupError/StoreError say what is wrong."""
        config = self.config
        service = config.service
        # before anything else: a dashboard meant to be closed must not start open
        self.dashboard_password = dashboard_password(service.dashboard_password_env,
                                                     self.environ)
        sock = bind(service.listen_host, service.listen_port)
        try:
            for portal in self.portals:  # the first one's store is every portal's engine
                shared = self._contexts[0].store if self._contexts else None
                self._contexts.append(build_context(
                    portal, environ=self.environ, clock=self.clock, shared=shared,
                    portals=len(self.portals), **self.connector_options))
        except BaseException:
            sock.close()
            self._close_contexts()
            raise
        ctx = self.ctx = self._contexts[0]
        try:
            self._start(ctx, sock)
        except BaseException:
            self.shutdown(budget=3.0, quiet=True)
            raise
        return self

    def _start(self, ctx: Context, sock: socket.socket) -> None:
        service = self.config.service
        self.metrics = Metrics(ctx.crm, ctx.store.portal)
        self.inbox = webhook_store(service.state_url)
        for each in self._contexts:
            metrics = self.metrics.for_portal(each.crm, each.store.portal)
            metrics.attach(each.store, each.connector, list(each.config.rulebook.coordinators))
            lane = Lane(each, Worker(each, metrics), self._webhook_source(each))
            each.wake = functools.partial(lane.worker.request, Job.INBOX)
            self.lanes.append(lane)
        worker = self.worker = self.lanes[0].worker
        sources = tuple(lane.source for lane in self.lanes if lane.source is not None)
        client_cas = {source.client_ca for source in sources if source.client_ca}
        if len(client_cas) > 1:
            raise StartupError("the portals name different client-certificate CAs; one "
                               f"server verifies one ({tls_files()})")
        client_ca = next(iter(client_cas), "")
        tls = tls_context(service.tls_cert, service.tls_key, client_ca) \
            if service.tls_cert else None
        inbox = self.inbox
        targets = tuple(PortalWebhooks(lane.ctx.store.portal, lane.source,
                                       inbox.for_portal(lane.ctx.store.portal),
                                       lane.ctx.wake)
                        for lane in self.lanes if lane.source is not None)
        runtime = Runtime(ctx, self.metrics, worker, service.public_url,
                          service.webhook_max_bytes, self.inbox,
                          budget=EventBudget(service.webhook_rate),
                          allow=service.webhook_allow,
                          sources=sources,
                          dashboard_password=self.dashboard_password,
                          targets=targets if len(self.lanes) > 1 else (),
                          lanes=tuple((lane.ctx, lane.worker) for lane in self.lanes))
        host, port = sock.getsockname()[:2]
        scheme = "https" if tls else "http"
        self.listen = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
        metrics = self.metrics
        self.limits = limits = HttpLimits(
            max_connections=connection_cap(service.max_connections),
            header_timeout=service.header_timeout.total_seconds(),
            body_timeout=service.body_timeout.total_seconds(),
            on_drop=lambda reason: metrics.http_dropped.labels(reason).inc())
        self._undo_log = serverlog.install(serverlog.LimitedServerLog(
            on_held=lambda source: metrics.log_held.labels(source).inc()))
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(runtime, service.trusted_proxies), http=guarded_protocol(limits),
            log_config=None, log_level="warning", access_log=False, lifespan="off",
            proxy_headers=False,  # ours, from trusted_proxies only (intake.ForwardedHeaders)
            backlog=ACCEPT_BURST, timeout_keep_alive=5, timeout_graceful_shutdown=2,
            server_header=False, date_header=False,
            ssl_context_factory=(lambda _config, _default: tls) if tls else None))
        self._server_thread = threading.Thread(target=self.server.run,
                                               kwargs={"sockets": [sock]},
                                               name="leadrouter-http", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise StartupError(f"the HTTP server did not start on {self.listen}")
            time.sleep(0.02)
        sock.listen(LISTEN_QUEUE)  # uvicorn set the queue to ACCEPT_BURST: widen it again
        self.scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
        for lane in self.lanes:
            lane.worker.start()
            self._schedule(self.scheduler, lane.worker, lane.ctx.store.portal)
        self.scheduler.start()
        self._announce(runtime)

    def _webhook_source(self, ctx: Context) -> WebhookSource | None:
        """The connector's webhooks as configured, secrets read from the environment; a
        configuration that cannot be served (a weak secret, a client CA without TLS) stops
        the start: failing open would serve what the configuration meant to close."""
        try:
            return ctx.connector.webhook_source(
                self.environ, terminates_tls=bool(self.config.service.tls_cert))
        except WebhookSetupError as exc:
            raise StartupError(str(exc)) from None

    def _schedule(self, scheduler: BackgroundScheduler, worker: Worker, portal: str) -> None:
        """One portal's jobs; they only wake that portal's worker."""
        service = self.config.service
        now = datetime.now(UTC)
        jobs: tuple[tuple[Job, timedelta, datetime | None], ...] = (
            (Job.POLL, service.poll_interval, now),
            (Job.APPLY, service.apply_interval, None),
            (Job.SLA, service.escalation_interval, now),
            (Job.RELEASE, service.escalation_interval, None),
            (Job.AVAILABILITY, service.availability_interval, now),
        )
        intake = worker.ctx.config.intake
        if intake is not None:  # this portal's mailbox, on its own interval
            jobs = (*jobs, (Job.INTAKE, intake.poll_interval, now))
        for job, every, first in jobs:
            seconds = _seconds(every)
            # the job only enqueues a request for the worker; a late one still counts
            # (coalesced into one run), one older than an interval is simply skipped
            options: dict[str, Any] = {"next_run_time": first} if first else {}
            scheduler.add_job(worker.request, "interval", args=[job], id=f"{portal}:{job}",
                              name=f"trigger {job.value} ({portal})", seconds=seconds,
                              max_instances=1, coalesce=True,
                              misfire_grace_time=max(1, int(seconds)), replace_existing=True,
                              **options)

    def _announce(self, runtime: Runtime) -> None:
        assert self.ctx is not None and self.limits is not None
        ctx, service, limits = self.ctx, self.config.service, self.limits
        # a path secret is announced as `{secret}`, never the secret itself
        webhooks = list(dict.fromkeys(f"{self.listen}{source.path}"
                                      for source in runtime.sources))  # portals share paths
        log.info("service.started", crm_kind=ctx.crm, url=api_url(ctx.connector),
                 state=ctx.store.url,
                 owners=len(ctx.directory.owner_of),
                 unusable=dict(ctx.directory.unusable) or None, listen=self.listen,
                 webhooks=webhooks or "off (polling only)",
                 portals=[lane.ctx.store.portal for lane in self.lanes]
                 if len(self.lanes) > 1 else None,
                 public_url=service.public_url or None,
                 intervals={"poll_s": _seconds(service.poll_interval),
                            "apply_s": _seconds(service.apply_interval),
                            "escalation_s": _seconds(service.escalation_interval),
                            "availability_s": _seconds(service.availability_interval)},
                 config={"max_connections": limits.max_connections,
                         "header_timeout_s": limits.header_timeout,
                         "body_timeout_s": limits.body_timeout,
                         "webhook_rate_per_min": service.webhook_rate,
                         "webhook_allow": [str(n) for n in service.webhook_allow] or "any",
                         "dashboard": "password" if self.dashboard_password
                                      else "loopback clients only",
                         "client_cert": any(s.client_ca for s in runtime.sources)})

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
        for lane in self.lanes:  # all asked first: they finish their steps side by side
            lane.worker.ask_stop()
        for lane in self.lanes:
            finished = lane.worker.stop(max(0.5, deadline - time.monotonic() - 0.5)) \
                and finished
        if self._server_thread is not None:
            self._server_thread.join(max(0.1, deadline - time.monotonic()))
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None
        if self._undo_log is not None:
            self._undo_log()
            self._undo_log = None
        self.ctx = None
        if finished:
            self._close_contexts()
        elif self._contexts:  # the in-flight step is abandoned: its outbox rows are retried
            log.warning("service.abandoned", reason="the step in flight did not finish "
                        "in time; it resumes at the next start")
        if not quiet:
            log.info("service.stopped", outcome="clean" if finished else "abandoned")
        return finished


    def _close_contexts(self) -> None:
        """The portals sharing the first one's engine, then the first (it owns it)."""
        contexts, self._contexts = self._contexts, []
        for ctx in reversed(contexts):
            ctx.close()


def run_service(config: Config, portals: Sequence[Config] = ()) -> int:
    """The `leadrouter run` command body: start, wait for a signal, stop. Exit code."""
    service = Service(config, portals=portals)
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
