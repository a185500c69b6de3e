"""One pipeline: `sync --once` and the service's worker run the same list of steps under one
failure policy, and their results add up.

Real parts only: the HubSpot sandbox over HTTPS, the real connector, a SQLite store. (A
crashing step never skipping the later ones is proven in test_poison_leads.py.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import AuthError
from sandbox.hubspot import HubSpotSandbox
from sync.context import Context
from sync.cycle import run_cycle
from sync.pipeline import STEPS, Job, RunResult, run_once
from sync.service.metrics import Metrics
from sync.service.worker import Worker
from tests.pipeline.conftest import FRIDAY_NIGHT, night_context

PROPS = {"insurance_type": "commercial", "state": "AZ", "zip": "85004",
         "hs_analytics_source": "PAID_SEARCH", "level_of_care": "residential"}
ALL_STEPS = [step.name for step in STEPS]
STORE_STEPS = [step.name for step in STEPS if not step.crm]
# what a run asks for after a roster change
DRAIN = ["release", "retry", "route", "apply", "notify"]


def owner_of(box: HubSpotSandbox, contact_id: str) -> str | None:
    return box.contact(contact_id)["properties"].get("hubspot_owner_id") or None


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """The sum of a metric's samples carrying `labels` (whatever their other labels)."""
    return sum(item.value for family in metrics.registry.collect() for item in family.samples
               if item.name == name and labels.items() <= item.labels.items())


def test_sync_once_and_a_worker_run_take_the_same_steps(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    for _ in range(3):
        box.create_contact(dict(PROPS))
    once = run_cycle(ctx)
    for _ in range(2):
        box.create_contact(dict(PROPS))
    worker = Worker(ctx, Metrics(ctx.crm))  # not started: `run` is called here directly
    scheduled = worker.run(set(Job))

    assert once.ran == scheduled.ran == ALL_STEPS
    assert (once.routing.routed, once.apply.tasks_created) == (3, 3)
    assert (scheduled.routing.routed, scheduled.apply.tasks_created) == (2, 2)
    # each job runs its part of that same list, in the same order
    assert worker.run({Job.INBOX}).ran == ["inbox", "route", "apply", "notify"]
    assert worker.run({Job.SLA, Job.APPLY}).ran == ["apply", "notify", "attempts", "pages",
                                                   "escalate"]
    assert worker.run({Job.RELEASE}).ran == DRAIN


def test_sync_once_drains_what_escalation_moved_and_the_worker_schedules_it(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context(sla="2s", single_pool=True)
    ids = [box.create_contact(dict(PROPS)) for _ in range(2)]
    run_cycle(ctx)
    first = {cid: owner_of(box, cid) for cid in ids}
    assert all(first.values())

    time.sleep(2.1)
    breached = run_cycle(ctx)
    assert breached.sla.breached == 2 and breached.sla.reassigned == 2
    assert breached.ran == ALL_STEPS + DRAIN
    assert breached.apply.owners_written == 2  # written in that same run
    second = {cid: owner_of(box, cid) for cid in ids}
    assert all(second[cid] not in (None, first[cid]) for cid in ids)

    time.sleep(2.1)
    worker = Worker(ctx, Metrics(ctx.crm))
    sla_run = worker.run({Job.SLA})
    assert sla_run.ran == ["attempts", "pages", "escalate"] and sla_run.sla.breached == 2
    assert not worker.idle()  # the drain is the worker's next run
    follow = worker.run({Job.RELEASE})
    assert follow.ran == DRAIN and follow.apply.owners_written == 2
    assert all(owner_of(box, cid) not in (first[cid], second[cid]) for cid in ids)


def test_an_auth_error_skips_only_the_crm_steps_in_both_runners(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    # Friday 21:00 in Phoenix: the lead is held until Monday 08:00 (15:00 UTC)
    clock = [FRIDAY_NIGHT]
    ctx = night_context(box, tmp_path / "state.db", clock)
    try:
        cid = box.create_contact(dict(PROPS), created_at=clock[0] - timedelta(minutes=1))
        assert run_cycle(ctx).routing.held == 1

        box.app.token = "revoked"  # a person must act
        clock[0] = datetime(2026, 11, 30, 15, 0, 30, tzinfo=UTC)  # the shift has started
        metrics = Metrics(ctx.crm)
        worker = Worker(ctx, metrics)
        scheduled = worker.run(set(Job))
        assert scheduled.failed_steps == ["poll"]
        assert isinstance(scheduled.auth_error, AuthError)
        # intake runs first and, with no mailbox configured, has nothing to do
        assert scheduled.ran == ["intake", "poll", *STORE_STEPS]
        # the store-only steps after the failure did their work; no CRM step ran
        assert scheduled.released == 1 and scheduled.routing.routed == 1
        assert owner_of(box, cid) is None
        assert worker.state.auth_failed
        assert worker.state.crm_error is not None
        assert (worker.state.crm_error.type, worker.state.crm_error.job) == ("AuthError", "poll")
        every_job = ",".join(sorted(job.value for job in Job))
        assert sample(metrics, "leadrouter_job_runs_total", job=every_job,
                      outcome="auth_error") == 1

        # `sync --once` under the same policy: the same steps, then the error is raised
        assert run_once(ctx).ran == scheduled.ran
        with pytest.raises(AuthError):
            run_cycle(ctx)

        box.app.token = box.token
        healed = run_cycle(ctx)
        assert healed.failed_steps == [] and healed.ran == ALL_STEPS
        assert (healed.apply.owners_written, healed.apply.tasks_created) == (1, 1)
        assert owner_of(box, cid) is not None
        both = scheduled + healed  # a failure and its error add up too
        assert both.failed_steps == ["poll"] and both.auth_error is scheduled.auth_error
        assert (both.released, both.routing.routed, both.apply.owners_written) == (1, 1, 1)
    finally:
        ctx.close()


def test_results_add_up_across_runs_of_either_runner(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    metrics = Metrics(ctx.crm)
    worker = Worker(ctx, metrics)
    runs: list[RunResult] = []
    for batch in (2, 3):
        for _ in range(batch):
            box.create_contact(dict(PROPS))
        runs.append(run_cycle(ctx))
    box.create_contact(dict(PROPS))
    runs.append(worker.run({Job.POLL}))
    assert [run.routing.routed for run in runs] == [2, 3, 1]

    total = sum(runs, RunResult())
    assert (total.ingest.new, total.routing.routed, total.apply.tasks_created) == (6, 6, 6)
    assert total.apply.owners_written == 6
    assert len(total.apply.owner_latencies) == 6
    assert total.ran == runs[0].ran + runs[1].ran + runs[2].ran
    assert total.failed_steps == [] and total.auth_error is None
    assert runs[0].routing.routed == 2 and len(runs[0].ran) == len(ALL_STEPS)  # not aliased

    running = RunResult()
    for run in runs:
        running += run
    assert running.summary() == total.summary()
    assert set(total.summary()) == {"ingest", "routing", "apply", "sla", "released",
                                    "retried", "failed_steps"}
    # the worker's metrics are fed from the same figures its result adds up
    assert sample(metrics, "leadrouter_leads_routed_total", crm="hubspot") == \
        runs[2].routing.routed
    assert sample(metrics, "leadrouter_tasks_created_total", crm="hubspot") == \
        runs[2].apply.tasks_created
