"""The one worker thread that runs pipeline steps; the scheduler and webhooks only trigger it.

Steps never run concurrently against the store: every trigger lands in a set of pending jobs,
and the worker runs whatever is pending, in a fixed order, one run at a time. Triggers that
arrive during a run coalesce into the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from connectors.base import AuthError, CrmError
from state.errors import StoreError
from sync.apply import ApplyResult, apply_pending
from sync.context import Context
from sync.ingest import IngestResult, drain_inbox, poll, purge_inbox
from sync.logs import get_logger
from sync.route import RouteResult, release_held, retry_unroutable, route_waiting
from sync.service.metrics import Metrics
from sync.sla_scan import SlaResult, detect_attempts, escalate_breached
from sync.tally import add_up

log = get_logger("leadrouter.worker")
INBOX_LIMIT = 500
# minimum spacing of webhook-triggered runs (seconds): about 4 CRM calls per run, so at most
# ~16 calls/s from webhooks, under HubSpot's 190 per 10 s whatever the webhook rate
INBOX_MIN_GAP = 0.25
APPLY_ROUNDS = 20


class Job(StrEnum):
    POLL = "poll"  # reconciliation: poll the CRM, then everything a new lead needs
    INBOX = "inbox"  # webhook hints: fetch those records, route, write
    RELEASE = "release"  # held leads whose shift has started
    APPLY = "apply"  # pending CRM writes (retries)
    SLA = "sla"  # contact attempts, breaches, escalation


@dataclass
class CrmErrorInfo:
    """What /healthz shows about the CRM's last error: type and status, never a message."""

    type: str
    status: int | None
    job: str
    at: datetime


@dataclass
class WorkerState:
    last_poll: datetime | None = None  # last successful poll (wall clock)
    last_run: datetime | None = None
    crm_error: CrmErrorInfo | None = None
    auth_failed: bool = False  # a person must act; cleared by the next successful poll
    runs: int = 0
    busy: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class RunTally:
    ingest: IngestResult = field(default_factory=IngestResult)
    routing: RouteResult = field(default_factory=RouteResult)
    apply: ApplyResult = field(default_factory=ApplyResult)
    sla: SlaResult = field(default_factory=SlaResult)
    released: int = 0
    retried: int = 0
    failed: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.state = WorkerState()
        self._pending: set[Job] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._roster_changed = True  # a start: the config or the roster may be new
        self._thread = threading.Thread(target=self._loop, name="leadrouter-worker",
                                        daemon=True)

    # -- control --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def request(self, job: Job | str) -> None:
        """Ask for a step; cheap and thread-safe (scheduler jobs and webhooks call it)."""
        with self._cond:
            self._pending.add(Job(job))
            self._cond.notify()

    def stop(self, timeout: float) -> bool:
        """Stop after the step in flight; True when the worker ended within `timeout`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self.state.busy

    # -- loop -----------------------------------------------------------------------------
    def _loop(self) -> None:
        last_inbox = -INBOX_MIN_GAP
        while not self._stop.is_set():
            with self._cond:
                while not self._pending and not self._stop.is_set():
                    self._cond.wait(1.0)
                if self._pending == {Job.INBOX}:
                    # a lone webhook after a quiet spell runs at once; under load, runs are
                    # spaced so each one takes a batch (CRM calls per run are nearly fixed)
                    ready_at = last_inbox + INBOX_MIN_GAP
                    while (not self._stop.is_set() and self._pending == {Job.INBOX}
                           and time.monotonic() < ready_at):
                        self._cond.wait(ready_at - time.monotonic())
                if self._stop.is_set():
                    return
                jobs, self._pending = set(self._pending), set()
                self.state.busy = True
            if jobs & {Job.INBOX, Job.POLL}:
                last_inbox = time.monotonic()
            try:
                self.run(jobs)
            finally:
                with self._cond:
                    self.state.busy = False

    def run(self, jobs: set[Job]) -> RunTally:
        """Run the steps these jobs need, in pipeline order; one log line per run.

        A phase that fails never skips the others: each later phase still runs (the outbox
        and the cursor keep the failed one's work for the next run). After an auth error the
        phases that call the CRM are skipped (a person must act); routing still runs.
        """
        ctx, tally = self.ctx, RunTally()
        started = time.monotonic()
        new_leads = bool(jobs & {Job.POLL, Job.INBOX, Job.RELEASE})
        # (name, phase, calls the CRM)
        phases: list[tuple[str, Callable[[], Any], bool]] = []
        if Job.POLL in jobs:
            phases.append(("poll", lambda: self._poll(tally), True))
        if Job.POLL in jobs or Job.INBOX in jobs:
            phases.append(("inbox", lambda: self._inbox(tally), True))
        if Job.POLL in jobs:
            phases.append(("purge", self._purge, False))
        if Job.POLL in jobs or Job.RELEASE in jobs:
            phases.append(("release", lambda: self._release(tally), False))
        if new_leads:
            phases.append(("route", lambda: self._route(tally), False))
        if new_leads or Job.APPLY in jobs:
            phases.append(("apply", lambda: self._apply(tally), True))
        if Job.SLA in jobs:
            phases.append(("attempts", lambda: self._attempts(tally), True))
            phases.append(("escalate", lambda: self._escalate(tally), True))
        outcomes: list[str] = []
        auth_failed = False
        for name, phase, uses_crm in phases:
            if self._stop.is_set():
                outcomes.append("abandoned")  # the outbox and cursor make stopping here safe
                break
            if uses_crm and auth_failed:
                continue
            try:
                phase()
            except AuthError as exc:
                self._crm_failed(name, exc, tally)
                with self.state.lock:
                    self.state.auth_failed = True
                log.error("job.stopped", job=name, error=str(exc), error_type="AuthError",
                          reason="a person must fix the CRM credentials or scopes")
                outcomes.append("auth_error")
                auth_failed = True
            except CrmError as exc:
                self._crm_failed(name, exc, tally)
                outcomes.append("crm_error")
            except StoreError as exc:
                tally.failed.append(name)
                log.error("job.stopped", job=name, error=str(exc),
                          error_type=type(exc).__name__)
                outcomes.append("store_error")
            except Exception as exc:
                # a bug: the type and where, never the message (it may carry lead data)
                tally.failed.append(name)
                log.error("job.crashed", job=name, error_type=type(exc).__name__)
                outcomes.append("crashed")
        outcome = outcomes[0] if outcomes else "ok"
        if outcome == "ok" and self._stop.is_set():
            outcome = "stopped"  # the rest waits in the outbox for the next start
        with self.state.lock:
            self.state.runs += 1
            self.state.last_run = ctx.clock()
        self.metrics.job_runs.labels(",".join(sorted(jobs)), outcome).inc()
        self._log(jobs, tally, outcome, started)
        return tally

    def _crm_failed(self, job: str, exc: CrmError, tally: RunTally) -> None:
        tally.failed.append(job)
        with self.state.lock:
            self.state.crm_error = CrmErrorInfo(type(exc).__name__, exc.status, job,
                                                self.ctx.clock())
        if not isinstance(exc, AuthError):
            log.warning("job.step_failed", job=job, error=str(exc),
                        error_type=type(exc).__name__, http_status=exc.status)

    def _log(self, jobs: set[Job], t: RunTally, outcome: str, started: float) -> None:
        busy = (t.ingest.new or t.routing.routed or t.routing.held or t.routing.unroutable
                or t.apply.owners_written or t.apply.tasks_created or t.sla.contacted
                or t.sla.breached or t.released or t.ingest.from_webhooks or t.retried
                or t.ingest.set_aside or t.routing.set_aside)
        if not busy and outcome == "ok":
            return
        log.info("job.done", job=",".join(sorted(jobs)), outcome=outcome, crm=self.ctx.crm,
                 duration_ms=round((time.monotonic() - started) * 1000),
                 count=t.ingest.new, skipped=t.ingest.skipped, routed=t.routing.routed,
                 held=t.routing.held, unroutable=t.routing.unroutable,
                 written=t.apply.owners_written, created=t.apply.tasks_created,
                 contacted=t.sla.contacted, breached=t.sla.breached,
                 escalated=t.sla.escalated + t.sla.reassigned, failed=t.failed or None)

    # -- phases ---------------------------------------------------------------------------
    def _poll(self, tally: RunTally) -> None:
        result = poll(self.ctx)
        add_up(tally.ingest, result)
        self.metrics.ingest(result)
        with self.state.lock:
            self.state.last_poll = self.ctx.clock()
            self.state.auth_failed = False
            self.state.crm_error = None

    def _inbox(self, tally: RunTally) -> None:
        result = drain_inbox(self.ctx, limit=INBOX_LIMIT)
        add_up(tally.ingest, result)
        self.metrics.ingest(result)
        if result.from_webhooks >= INBOX_LIMIT:
            self.request(Job.INBOX)  # more waiting: take them in the next run

    def _purge(self) -> None:
        purge_inbox(self.ctx)

    def _release(self, tally: RunTally) -> None:
        """Held leads whose shift began; unroutable leads tried again (all of them when the
        roster changed since the last try, else those tried an escalation interval ago)."""
        tally.released += release_held(self.ctx)
        # cleared only once the retry went through (a failed one is repeated next time);
        # roster_changed() is called from this same thread, so nothing is lost in between
        retried = retry_unroutable(self.ctx, roster_changed=self._roster_changed)
        self._roster_changed = False
        tally.retried += retried
        self.metrics.retried(retried)

    def roster_changed(self) -> None:
        """Capacity freed, someone came back, the config changed: retry unroutable leads."""
        self._roster_changed = True
        self.request(Job.RELEASE)

    def _route(self, tally: RunTally) -> None:
        result = route_waiting(self.ctx)
        tally.routing = result
        self.metrics.routing(result)

    def _apply(self, tally: RunTally) -> None:
        """Round by round (owners, then their tasks), so a stop request is honoured between
        batches; leftovers are picked up by the next apply job or the next start."""
        for _ in range(APPLY_ROUNDS):
            if self._stop.is_set():
                return
            result = apply_pending(self.ctx, rounds=1)
            add_up(tally.apply, result)
            self.metrics.apply(result)
            if not (result.owners_written or result.tasks_created or result.overridden
                    or result.failed or result.deferred):
                return

    def _attempts(self, tally: RunTally) -> None:
        result = detect_attempts(self.ctx)
        add_up(tally.sla, result)
        self.metrics.sla(result)
        if result.contacted or result.overridden:
            self.roster_changed()  # capacity freed

    def _escalate(self, tally: RunTally) -> None:
        result = escalate_breached(self.ctx)
        add_up(tally.sla, result)
        self.metrics.sla(result)
        if result.breached:
            self.roster_changed()  # a lead moved to another owner
        if result.breached and not self._stop.is_set():
            self._apply(tally)

