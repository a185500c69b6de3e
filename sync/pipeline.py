"""The pipeline as data: one ordered list of steps, one result, one failure policy.

`sync --once` runs every step (then what they ask for); the service's worker runs the steps
of its pending jobs. Both go through `run_steps`: a failing step is logged and recorded and
the next step still runs (the outbox and the cursor keep its work for the next run); after a
CRM auth error the steps that need the CRM are skipped, because a person must act.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from connectors.base import AuthError, CrmError
from state import AVAILABILITY_LOCK, INTAKE_LOCK, POLL_LOCK, SLA_LOCK
from state.errors import StoreError
from sync.apply import ApplyResult, apply_pending
from sync.availability import refresh_from_crm, sweep_returns
from sync.context import Context
from sync.ingest import IngestResult, drain_inbox, poll, purge_inbox
from sync.intake.process import IntakeResult, run_intake
from sync.logs import get_logger
from sync.notify.deliver import NotifyResult, deliver_notifications
from sync.overlap import Overlap
from sync.paging import PagingResult, pass_on_unanswered
from sync.route import RouteResult, release_held, retry_unroutable, route_waiting
from sync.sla_scan import SlaResult, detect_attempts, escalate_breached
from sync.tally import add_up

log = get_logger("leadrouter.pipeline")
INBOX_LIMIT = 500  # webhook hints taken per run; the rest wait for the next one
APPLY_ROUNDS = 20


class Job(StrEnum):
    """What the service's scheduler and webhooks ask for; each names a subset of STEPS."""

    POLL = "poll"  # reconciliation: poll the CRM, then everything a new lead needs
    INBOX = "inbox"  # webhook hints: fetch those records, route, write
    RELEASE = "release"  # held leads whose shift has started; the roster changed
    APPLY = "apply"  # pending CRM writes (retries)
    SLA = "sla"  # contact attempts, breaches, escalation
    AVAILABILITY = "availability"  # who the CRM shows away; away marks that ended
    INTAKE = "intake"  # email intake: new messages of the mailbox ([intake.email])


@dataclass
class RunResult:
    """What one run (or several, added up with `+`) did; `summary()` is its figures."""

    ingest: IngestResult = field(default_factory=IngestResult)
    routing: RouteResult = field(default_factory=RouteResult)
    apply: ApplyResult = field(default_factory=ApplyResult)
    sla: SlaResult = field(default_factory=SlaResult)
    notify: NotifyResult = field(default_factory=NotifyResult)  # messages to coordinators
    intake: IntakeResult = field(default_factory=IntakeResult)  # email-delivered leads
    paging: PagingResult = field(default_factory=PagingResult)  # on-call pages unanswered
    released: int = 0
    retried: int = 0  # unroutable leads tried again
    failed_steps: list[str] = field(default_factory=list)  # steps stopped by errors
    auth_error: AuthError | None = None  # set: CRM steps were skipped, a person must act
    # first thing that went wrong: auth_error | crm_error | store_error | crashed | abandoned
    outcome: str | None = None
    ran: list[str] = field(default_factory=list)  # steps run (failed ones too), in order
    follow_up: set[Job] = field(default_factory=set)  # jobs the steps asked for

    @property
    def failed(self) -> list[str]:
        """The worker's name for `failed_steps`."""
        return self.failed_steps

    def take(self, into: str | None, figures: Any) -> None:
        """Add one step's figures to the field `into` (a count or a result dataclass)."""
        if into is None:
            return
        current = getattr(self, into)
        if isinstance(current, int):
            setattr(self, into, current + figures)
        else:
            add_up(current, figures)

    def __add__(self, other: RunResult) -> RunResult:
        return add_up(add_up(RunResult(), self), other)

    def __iadd__(self, other: RunResult) -> RunResult:
        return add_up(self, other)

    def summary(self) -> dict[str, Any]:
        return {"ingest": asdict(self.ingest), "routing": asdict(self.routing),
                "apply": asdict(self.apply), "sla": asdict(self.sla),
                "released": self.released, "retried": self.retried,
                "failed_steps": list(self.failed_steps)}


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Run], Any]  # returns the step's figures (or records them with run.add)
    crm: bool  # needs the CRM (calls it or acts on what it read): skipped after an auth error
    jobs: frozenset[Job]  # the service jobs that run it (sync --once runs every step)
    into: str | None = None  # the RunResult field its figures add to


@dataclass
class Run:
    """One run of steps: the context, what it did so far, and the caller's hooks."""

    ctx: Context
    result: RunResult = field(default_factory=RunResult)
    roster_changed: bool = True  # retry every unroutable lead, not only those due again
    stopping: Callable[[], bool] | None = None  # None: nothing interrupts this run
    on_figures: Callable[[Step, Any], None] | None = None  # each step's figures, as they come
    on_failure: Callable[[Step, Exception], None] | None = None
    step: Step | None = None  # the step in progress

    def add(self, figures: Any) -> None:
        """Record figures of the step in progress (a step may report several batches)."""
        assert self.step is not None
        self.result.take(self.step.into, figures)
        if self.on_figures is not None:
            self.on_figures(self.step, figures)

    def ask(self, *jobs: Job) -> None:
        """A step asks for more work: the service schedules it, `sync --once` drains it."""
        self.result.follow_up.update(jobs)


def _apply(run: Run) -> None:
    """Pending CRM writes. A run that may be stopped goes round by round (owners, then their
    tasks), so a stop is honoured between batches; leftovers wait in the outbox."""
    if run.stopping is None:  # `sync --once`: everything due, however much
        run.add(apply_pending(run.ctx, rounds=None))
        return
    for _ in range(APPLY_ROUNDS):
        if run.stopping():
            return
        figures = apply_pending(run.ctx, rounds=1)
        run.add(figures)  # recorded per round: a later failure keeps what was written
        if not (figures.progressed or figures.deferred):
            return


def _poll(run: Run) -> IngestResult:
    """Poll; on a backlog each landed page is routed and written while the next ones are
    fetched (sync/overlap.py), their figures reported as the route and apply steps'."""
    def report(name: str, figures: Any) -> None:
        step = next(s for s in STEPS if s.name == name)
        run.result.take(step.into, figures)
        if run.on_figures is not None:
            run.on_figures(step, figures)

    overlap = Overlap(run.ctx, report, stopping=run.stopping)
    try:
        polled = poll(run.ctx, on_page=overlap.page_landed, stopping=run.stopping)
        overlap.finish()
    except BaseException:  # the calls still in flight end, then their claims
        overlap.abandon()
        raise
    return polled


def _inbox(run: Run) -> IngestResult:
    """Webhook hints; a contact attempt they led to counts as the attempts step's."""
    def attempts(figures: SlaResult) -> None:
        step = next(s for s in STEPS if s.name == "attempts")
        run.result.take(step.into, figures)
        if run.on_figures is not None:
            run.on_figures(step, figures)
        if figures.contacted or figures.overridden:
            run.ask(Job.RELEASE)  # capacity freed: unroutable leads get their chance

    return drain_inbox(run.ctx, limit=INBOX_LIMIT, on_attempts=attempts)


def _attempts(run: Run) -> SlaResult:
    figures = detect_attempts(run.ctx)
    if figures.contacted or figures.overridden:
        run.ask(Job.RELEASE)  # capacity freed: unroutable leads get their chance
    return figures


def _escalate(run: Run) -> SlaResult:
    figures = escalate_breached(run.ctx)
    if figures.breached:
        run.ask(Job.RELEASE)  # leads moved to other owners: write them, retry the waiting
    return figures


def _pages(run: Run) -> PagingResult:
    figures = pass_on_unanswered(run.ctx)
    if figures.passed_on or figures.escalated:
        run.ask(Job.RELEASE)  # write the new owners, page them
    return figures


def _returns(counted: int, run: Run) -> None:
    if counted:
        run.ask(Job.RELEASE)  # someone is back: leads that found nobody get their chance


def _availability(run: Run) -> None:
    _returns(refresh_from_crm(run.ctx), run)


def _sweep(run: Run) -> None:
    _returns(sweep_returns(run.ctx), run)


def _intake(run: Run) -> IntakeResult:
    """Email intake; its leads are routed before their messages move (sync/intake)."""
    if run.ctx.config.intake is None:
        return IntakeResult()
    figures = run_intake(run.ctx, lambda ctx: run.result.take("routing", route_waiting(ctx)))
    if figures.created or figures.existing or figures.follow_ups:
        run.ask(Job.APPLY)  # owners and tasks of the leads it routed
    return figures


def _jobs(*jobs: Job) -> frozenset[Job]:
    return frozenset(jobs)


NEW_LEADS = _jobs(Job.POLL, Job.INBOX, Job.RELEASE)

# The pipeline, in order. A new step (email intake, say) is one more line here.
STEPS: tuple[Step, ...] = (
    # first: a record created just before a crash is found again by its message (with the
    # message's arrival time) before polling could see it as a lead of its own
    Step("intake", lambda run: _intake(run), crm=True, jobs=_jobs(Job.POLL, Job.INTAKE),
         into="intake"),
    Step("poll", lambda run: _poll(run), crm=True, jobs=_jobs(Job.POLL), into="ingest"),
    Step("inbox", lambda run: _inbox(run), crm=True,
         jobs=_jobs(Job.POLL, Job.INBOX), into="ingest"),
    Step("purge", lambda run: purge_inbox(run.ctx), crm=False, jobs=_jobs(Job.POLL)),
    # before routing, so `sync --once` routes with who is away now
    Step("availability", _availability, crm=True, jobs=_jobs(Job.AVAILABILITY)),
    Step("returns", _sweep, crm=False, jobs=_jobs(Job.AVAILABILITY)),
    Step("release", lambda run: release_held(run.ctx), crm=False,
         jobs=_jobs(Job.POLL, Job.RELEASE), into="released"),
    Step("retry", lambda run: retry_unroutable(run.ctx, roster_changed=run.roster_changed),
         crm=False, jobs=_jobs(Job.POLL, Job.RELEASE), into="retried"),
    Step("route", lambda run: route_waiting(run.ctx), crm=False, jobs=NEW_LEADS,
         into="routing"),
    Step("apply", _apply, crm=True, jobs=NEW_LEADS | {Job.APPLY}, into="apply"),
    # no CRM: people hear of their leads while the CRM refuses us
    Step("notify", lambda run: deliver_notifications(run.ctx, stopping=run.stopping),
         crm=False, jobs=NEW_LEADS | {Job.APPLY}, into="notify"),
    Step("attempts", _attempts, crm=True, jobs=_jobs(Job.SLA), into="sla"),
    # after the attempts (a call acknowledges a page); needs the CRM for the same reason
    Step("pages", _pages, crm=True, jobs=_jobs(Job.SLA), into="paging"),
    # needs the CRM although it only writes the store: without the contact attempts it
    # could not read, it would reassign leads that were in fact called
    Step("escalate", _escalate, crm=True, jobs=_jobs(Job.SLA), into="sla"),
)


def steps_for(jobs: Iterable[Job]) -> list[Step]:
    """The steps these jobs need, in pipeline order."""
    wanted = set(jobs)
    return [step for step in STEPS if step.jobs & wanted]


# Steps one worker at a time per portal (PostgreSQL advisory locks; several workers would
# repeat the same CRM reads): a worker that finds the lock taken skips the step.
EXCLUSIVE = {"poll": POLL_LOCK, "attempts": SLA_LOCK, "escalate": SLA_LOCK,
             "availability": AVAILABILITY_LOCK, "intake": INTAKE_LOCK}


def _run_step(run: Run, step: Step) -> Any:
    lock = EXCLUSIVE.get(step.name)
    if lock is None:
        return step.run(run)
    with run.ctx.store.exclusive(lock) as mine:
        if mine:
            return step.run(run)
    # another worker is doing it for this portal now: done, with nothing to report
    return getattr(RunResult(), step.into) if step.into else None


def run_steps(run: Run, steps: Iterable[Step]) -> RunResult:
    """Run `steps` in order under the one failure policy; returns `run.result`."""
    result = run.result
    for step in steps:
        if run.stopping is not None and run.stopping():
            result.outcome = result.outcome or "abandoned"  # outbox and cursor make it safe
            break
        if step.crm and result.auth_error is not None:
            continue
        run.step = step
        result.ran.append(step.name)
        try:
            figures = _run_step(run, step)
            if figures is not None:
                run.add(figures)
        except Exception as exc:  # whatever stops a step ends that step only
            _failed(run, step, exc)
    run.step = None
    return result


def _failed(run: Run, step: Step, exc: Exception) -> None:
    result = run.result
    result.failed_steps.append(step.name)
    if isinstance(exc, AuthError):
        result.auth_error = result.auth_error or exc
        kind = "auth_error"
        log.error("job.stopped", job=step.name, error=str(exc), error_type="AuthError",
                  reason="a person must fix the CRM credentials or scopes")
    elif isinstance(exc, CrmError):
        kind = "crm_error"
        log.warning("job.step_failed", job=step.name, error=str(exc),
                    error_type=type(exc).__name__, http_status=exc.status)
    elif isinstance(exc, StoreError):  # store messages are written for users: no lead data
        kind = "store_error"
        log.error("job.stopped", job=step.name, error=str(exc), error_type=type(exc).__name__)
    else:
        # a bug: the type and where, never the message unless declared safe (may hold data)
        kind = "crashed"
        safe = {"error": str(exc)} if getattr(exc, "phi_safe", False) else {}
        log.error("job.crashed", job=step.name, error_type=type(exc).__name__, **safe)
    result.outcome = result.outcome or kind
    if run.on_failure is not None:
        run.on_failure(step, exc)


def run_once(ctx: Context) -> RunResult:
    """`sync --once`: every step once, then the steps their follow-ups ask for (capacity
    freed, leads reassigned), so the run writes what it routed. Nothing is raised."""
    run = Run(ctx)
    run_steps(run, STEPS)
    if run.result.follow_up:
        run_steps(run, steps_for(run.result.follow_up))
    return run.result
