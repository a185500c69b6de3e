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
from typing import Any

from connectors.base import AuthError, CrmError
from sync.context import Context
from sync.logs import get_logger
from sync.pipeline import INBOX_LIMIT, Job, Run, RunResult, Step, run_steps, steps_for
from sync.service.metrics import Metrics

# Job is the pipeline's (the job -> steps mapping is data there); the runner imports it here
__all__ = ["CrmErrorInfo", "Job", "Worker", "WorkerState"]

log = get_logger("leadrouter.worker")
# minimum spacing of webhook-triggered runs (seconds): about 4 CRM calls per run, so at most
# ~16 calls/s from webhooks, within the connectors' default rate limits whatever the webhook
# rate (their client-side limiters hold the exact figure)
INBOX_MIN_GAP = 0.25


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


class Worker:
    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.state = WorkerState()
        self._pending: set[Job] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._roster_changed = True  # a start: the config or the roster may be new
        # each step's figures feed the metric of the RunResult field they add to
        self._metrics_for: dict[str, Callable[[Any], None]] = {
            "ingest": metrics.ingest, "routing": metrics.routing, "apply": metrics.apply,
            "sla": metrics.sla, "retried": metrics.retried, "notify": metrics.notified}
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

    def ask_stop(self) -> None:
        """Stop after the step in flight, without waiting (`stop` waits)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float) -> bool:
        """Stop after the step in flight; True when the worker ended within `timeout`."""
        self.ask_stop()
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

    def run(self, jobs: set[Job]) -> RunResult:
        """Run the steps these jobs need, in pipeline order (sync/pipeline.py); one log line
        per run. A failing step never skips the others; after an auth error the steps that
        call the CRM are skipped (a person must act). What the steps ask for (capacity
        freed, leads reassigned) is requested for the next run."""
        started = time.monotonic()
        run = Run(self.ctx, roster_changed=self._roster_changed, stopping=self._stop.is_set,
                  on_figures=self._step_done, on_failure=self._step_failed)
        result = run_steps(run, steps_for(jobs))
        outcome = result.outcome or "ok"
        if outcome == "ok" and self._stop.is_set():
            outcome = "stopped"  # the rest waits in the outbox for the next start
        with self.state.lock:
            self.state.runs += 1
            self.state.last_run = self.ctx.clock()
        self.metrics.job_runs.labels(",".join(sorted(jobs)), outcome).inc()
        self._log(jobs, result, outcome, started)
        if Job.RELEASE in result.follow_up:
            self.roster_changed()
        for job in result.follow_up - {Job.RELEASE}:
            self.request(job)
        return result

    def _step_done(self, step: Step, figures: Any) -> None:
        """Metrics and health as each step reports; these keep the worker's own state."""
        record = self._metrics_for.get(step.into or "")
        if record is not None:
            record(figures)
        if step.name == "poll":
            with self.state.lock:
                self.state.last_poll = self.ctx.clock()
                self.state.auth_failed = False
                self.state.crm_error = None
        elif step.name == "inbox" and figures.from_webhooks >= INBOX_LIMIT:
            self.request(Job.INBOX)  # more waiting: take them in the next run
        elif step.name == "retry":
            # cleared only once the retry went through (a failed one is repeated next time);
            # roster_changed() is called from this same thread, so nothing is lost in between
            self._roster_changed = False

    def _step_failed(self, step: Step, exc: Exception) -> None:
        if not isinstance(exc, CrmError):
            return
        with self.state.lock:
            self.state.crm_error = CrmErrorInfo(type(exc).__name__, exc.status, step.name,
                                                self.ctx.clock())
            if isinstance(exc, AuthError):
                self.state.auth_failed = True

    def _log(self, jobs: set[Job], t: RunResult, outcome: str, started: float) -> None:
        busy = (t.ingest.new or t.routing.routed or t.routing.held or t.routing.unroutable
                or t.apply.owners_written or t.apply.tasks_created or t.sla.contacted
                or t.sla.breached or t.released or t.ingest.from_webhooks or t.retried
                or t.ingest.set_aside or t.routing.set_aside)
        if not busy and outcome == "ok":
            return
        log.info("job.done", job=",".join(sorted(jobs)), outcome=outcome, crm=self.ctx.crm,
                 portal=self.ctx.store.portal,
                 duration_ms=round((time.monotonic() - started) * 1000),
                 count=t.ingest.new, skipped=t.ingest.skipped, routed=t.routing.routed,
                 held=t.routing.held, unroutable=t.routing.unroutable,
                 written=t.apply.owners_written, created=t.apply.tasks_created,
                 contacted=t.sla.contacted, breached=t.sla.breached,
                 escalated=t.sla.escalated + t.sla.reassigned, failed=t.failed_steps or None)

    def roster_changed(self) -> None:
        """Capacity freed, someone came back, the config changed: retry unroutable leads."""
        self._roster_changed = True
        self.request(Job.RELEASE)
