"""Faults: 5xx, ambiguous writes, resets and a tight rate limit still converge exactly once,
while HubSpot search trails writes by several seconds (as the real one does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.retry import RetryPolicy
from sandbox._server import Faults
from sandbox.hubspot import HubSpotSandbox, RouteFault
from state import AuditKind, LeadStatus
from sync.apply import apply_pending
from sync.config import parse_config
from sync.context import Context, build_context
from sync.cycle import run_cycle
from tests.conftest import PgServer
from tests.pipeline.conftest import config_text, lead_rows, seed

DONE = {LeadStatus.TASK_CREATED, LeadStatus.SKIPPED}
SEARCH_LAG = 8.0  # seconds before a created or updated record shows in search
BUDGET = 50.0  # seconds of cycles before the test gives up (keeps it under a minute)


def found_after_uncertain_create(ctx: Context) -> int:
    """Tasks recorded as found by their marker (created by an earlier, uncertain try)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = uow.audit.recent(datetime.now(UTC) - timedelta(hours=1),
                                kind=AuditKind.TASK_CREATED)
        return sum(1 for row in rows if (row.detail or {}).get("found_existing"))


def test_faults_and_rate_limits_converge_with_no_duplicates_and_no_early_retries(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    ids = seed(box, 60, seed_value=9)
    ctx = make_context()
    box.limiter.ten_second_limit = 8  # far below what the client allows itself (190)
    # and searches (polling and attempt detection search now, rather than read per lead)
    box.limiter.search_per_second = 2  # below the client's 5
    # every object type: a task created by an ambiguous (applied, then 502) batch create
    # stays out of search for longer than the applier waits before it checks again
    box.index_lag = SEARCH_LAG
    box.faults = Faults(error_rate=0.2, ambiguous_rate=0.1, reset_rate=0.03, seed=5)
    box.clear_log()

    started = time.monotonic()
    deadline = started + BUDGET
    while time.monotonic() < deadline:
        run_cycle(ctx)  # a step may stop on a retriable storm; the next cycle resumes it
        rows = lead_rows(ctx)
        if len(rows) == len(ids) and all(r.status in DONE for r in rows.values()):
            break
        time.sleep(0.5)
    box.faults = Faults()
    elapsed = time.monotonic() - started

    rows = lead_rows(ctx)
    assert sorted(rows) == sorted(ids), "every lead was seen"
    assert {r.status for r in rows.values()} <= DONE, {r.status for r in rows.values()}
    for cid in ids:
        tasks = box.tasks_for(cid)
        assert len(tasks) == 1, (cid, len(tasks))
        owner = box.contact(cid)["properties"]["hubspot_owner_id"]
        assert tasks[0]["properties"]["hubspot_owner_id"] == owner
    assert elapsed < BUDGET

    log = sorted(box.request_log, key=lambda r: r.at)
    statuses = {r.status for r in log}
    assert 429 in statuses and statuses & {500, 502, 503}, statuses
    for index, refused in enumerate(log):
        if refused.status != 429 or refused.retry_after is None:
            continue
        bucket = refused.path.endswith("/search")
        later = [r for r in log[index + 1:] if r.path.endswith("/search") == bucket]
        if later:
            gap = later[0].at - refused.at
            assert gap >= refused.retry_after - 0.01, (refused, later[0])


def test_an_applied_create_whose_answer_was_lost_is_found_while_search_still_hides_it(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    """Every write is applied and then answered 502; search shows a task only 8 s after
    its create. The applier's second try comes ~2 s later: it must find each task (by the
    contact's task associations) and create none again."""
    ids = seed(box, 20, seed_value=11)
    # no retries inside the client: each cycle makes one try, the outbox paces the next
    ctx = make_context(connector_options={"retry": RetryPolicy(attempts=1)})
    box.index_lag = SEARCH_LAG
    box.limiter.search_per_second = 100  # no 429 here: only the lag is under test
    box.faults = Faults(ambiguous_rate=1.0)

    started = time.monotonic()
    while time.monotonic() < started + BUDGET:
        run_cycle(ctx)
        rows = lead_rows(ctx)
        if len(rows) == len(ids) and all(r.status in DONE for r in rows.values()):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    box.faults = Faults()

    assert {r.status for r in lead_rows(ctx).values()} == {LeadStatus.TASK_CREATED}
    assert [len(box.tasks_for(cid)) for cid in ids] == [1] * len(ids)
    assert found_after_uncertain_create(ctx) == len(ids)
    assert elapsed < SEARCH_LAG, "found before search could have shown the tasks"


# --- two workers on one PostgreSQL store: a slow create is never re-claimed and repeated ---
CREATE = "POST /crm/v3/objects/tasks/batch/create"
LOOKUPS = ("POST /crm/v4/associations/contacts/tasks/batch/read",  # find_tasks
           "POST /crm/v3/objects/tasks/search")  # what looked for markers before
LOOKUP_CALLS = ("POST /crm/v4/associations/{from}/{to}/batch/read",  # as counted
                "POST /crm/v3/objects/tasks/search")
LEASE = 1.0  # claim_lease in these tests: far shorter than the slow calls (3 s)


def _worker(box: HubSpotSandbox, tmp_path: Path, state_url: str, ahead: float = 0.0
            ) -> Context:
    """A worker on the shared store with a 1 s claim lease; its clock runs `ahead` seconds
    ahead of real time (so a backoff is over without waiting for it)."""
    text = config_text(box, tmp_path / "unused.db",
                       extra_service=f'claim_lease = "{LEASE:g}s"').replace(
        f'state_url = "sqlite:///{tmp_path / "unused.db"}"', f'state_url = "{state_url}"')
    return build_context(parse_config(text), environ={"HUBSPOT_TOKEN": box.token},
                         clock=lambda: datetime.now(UTC) + timedelta(seconds=ahead))


def _in_background(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _calls(box: HubSpotSandbox, routes: tuple[str, ...]) -> int:
    """Requests received on these routes so far (counted on arrival)."""
    calls = box.counters()["calls"]
    return sum(calls.get(route, 0) for route in routes)


def _start_and_wait(box: HubSpotSandbox, work: Callable[[], object], *routes: str
                    ) -> tuple[threading.Thread, list[BaseException]]:
    """Run `work` in a thread until it has sent a request on one of `routes`."""
    before = _calls(box, routes)
    thread, errors = _in_background(work)
    deadline = time.monotonic() + 20
    while _calls(box, routes) == before:
        assert not errors and time.monotonic() < deadline, (errors, f"no {routes} request")
        time.sleep(0.01)
    return thread, errors


def _one_task_each(box: HubSpotSandbox, ctx: Context, ids: list[str]) -> None:
    assert [len(box.tasks_for(cid)) for cid in ids] == [1] * len(ids)
    assert {r.status for r in lead_rows(ctx).values()} == {LeadStatus.TASK_CREATED}


def test_a_task_create_slower_than_the_claim_lease_is_not_re_claimed_and_repeated(
        box: HubSpotSandbox, tmp_path: Path, pg_server: PgServer) -> None:
    """Worker A's create is in flight for 3 s, three leases; worker B runs meanwhile. B
    must not take the rows (it would find no task yet and create a second one)."""
    ids = seed(box, 5, seed_value=21)
    url = pg_server.new_database()
    first, second = _worker(box, tmp_path, url), _worker(box, tmp_path, url)
    try:
        box.route_faults[CREATE] = RouteFault(before=3.0)  # in flight, applied after 3 s
        thread, errors = _start_and_wait(box, lambda: run_cycle(first), CREATE)
        time.sleep(1.5 * LEASE)  # A's first claim is over: only its renewals keep it
        assert apply_pending(second).tasks_created == 0
        thread.join(30)
        assert not errors
        _one_task_each(box, first, ids)
    finally:
        first.close()
        second.close()


def _tasks_tried_once(box: HubSpotSandbox, tmp_path: Path, url: str) -> list[str]:
    """Leads routed and owners written, their task create refused (503, nothing applied):
    the next try (due 2 s later) looks for each task before creating it."""
    ids = seed(box, 5, seed_value=22)
    ctx = _worker(box, tmp_path, url)
    try:
        box.route_faults[CREATE] = RouteFault(status=503)
        run_cycle(ctx)
        del box.route_faults[CREATE]
    finally:
        ctx.close()
    assert all(box.tasks_for(cid) == [] for cid in ids)
    return ids


def test_a_look_for_the_task_slower_than_the_claim_lease_keeps_the_claim(
        box: HubSpotSandbox, tmp_path: Path, pg_server: PgServer) -> None:
    """Worker A looks for the tasks (3 s) before creating them; worker B runs meanwhile
    and must not take the rows (both would find nothing and create a task each)."""
    url = pg_server.new_database()
    ids = _tasks_tried_once(box, tmp_path, url)
    first, second = _worker(box, tmp_path, url, 3.0), _worker(box, tmp_path, url, 3.0)
    try:
        for route in LOOKUPS:
            box.route_faults[route] = RouteFault(after=3.0)  # read now, answered 3 s later
        thread, errors = _start_and_wait(box, lambda: apply_pending(first), *LOOKUP_CALLS)
        time.sleep(1.5 * LEASE)
        assert apply_pending(second).tasks_created == 0
        thread.join(30)
        assert not errors
        _one_task_each(box, first, ids)
    finally:
        first.close()
        second.close()


def test_a_worker_whose_claim_was_taken_while_it_looked_for_the_task_does_not_create_it(
        box: HubSpotSandbox, tmp_path: Path, pg_server: PgServer) -> None:
    """Worker A looks for the tasks, slowly (3 s). B's clock is ahead of A's by more than
    a lease (as when A stalls). On PostgreSQL a claim is A's session lock
    (state/claim_locks.py): B, whatever its clock, never takes the rows of a live worker,
    so it creates nothing, and A creates each task once."""
    url = pg_server.new_database()
    ids = _tasks_tried_once(box, tmp_path, url)
    first = _worker(box, tmp_path, url, 3.0)
    second = _worker(box, tmp_path, url, 3.0 + 1.5 * LEASE)
    try:
        for route in LOOKUPS:
            box.route_faults[route] = RouteFault(after=3.0)
        thread, errors = _start_and_wait(box, lambda: apply_pending(first), *LOOKUP_CALLS)
        for route in LOOKUPS:
            del box.route_faults[route]  # A's look stays slow, B's is not
        box.route_faults[CREATE] = RouteFault(before=3.0)  # in flight when A is back
        assert apply_pending(second).tasks_created == 0  # A is alive: its rows are A's
        thread.join(30)
        assert not errors
        _one_task_each(box, first, ids)
    finally:
        first.close()
        second.close()
