"""Routing and task claims take the transactions their batches need, and no more.

Real parts only: the HubSpot sandbox over HTTPS, the real connector, a SQLite store; the
transactions are counted on the store's own engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus, OutboxKind
from sync.apply.common import ApplyResult
from sync.apply.owners import apply_owners
from sync.apply.tasks import land_tasks, send_tasks
from sync.claims import in_flight_lease
from sync.context import Context
from sync.ingest import poll
from sync.route import BATCH, route_waiting
from tests.pipeline.conftest import seed


@contextmanager
def write_units(ctx: Context) -> Iterator[list[int]]:
    """How many write transactions the store began (SQLite: BEGIN IMMEDIATE), in [0]."""
    count = [0]

    def began(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            count[0] += 1

    event.listen(ctx.store.engine, "before_cursor_execute", began)
    try:
        yield count
    finally:
        event.remove(ctx.store.engine, "before_cursor_execute", began)


@pytest.mark.parametrize(("waiting", "units"), [
    (0, 1),  # one look that finds nothing
    (3, 1),  # a short batch is the last: no second look to find nothing
    (BATCH, 2),  # a full batch may have more behind it: one more look
    (BATCH + 3, 2),
])
def test_routing_takes_one_transaction_per_batch_of_waiting_leads(
        box: HubSpotSandbox, make_context: Callable[..., Context], waiting: int,
        units: int) -> None:
    ctx = make_context()
    seed(box, waiting)
    assert poll(ctx).new == waiting
    with write_units(ctx) as began:
        result = route_waiting(ctx)
    assert began[0] == units
    assert result.routed == waiting
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.leads.count_by_status().get(LeadStatus.SEEN.value, 0) == 0


def test_a_task_batch_is_claimed_made_ready_and_counted_in_one_transaction(
        box: HubSpotSandbox, make_context: Callable[..., Context]) -> None:
    """Claiming a task batch, checking its owner writes and counting its attempts take one
    unit, and that unit leaves each row claimed for a kept claim's lease from now (no
    renewal of its own before the call, unless the CRM was searched for the tasks first)."""
    ctx = make_context()
    seed(box, 5)
    poll(ctx)
    route_waiting(ctx)
    result = ApplyResult()
    assert apply_owners(ctx, result) and result.owners_written == 5
    with write_units(ctx) as began:
        flight = send_tasks(ctx, result)
    assert flight is not None
    try:
        assert began[0] == 1
        with ctx.store.unit_of_work(read_only=True) as uow:
            rows = [uow.outbox.get_for(row.crm_id, row.assignment, OutboxKind.TASK)
                    for row in flight.sent]
        assert len(rows) == 5
        lease = in_flight_lease(ctx)
        for row in rows:
            assert row is not None and row.attempts == 1
            assert timedelta(0) < row.next_attempt_at - ctx.clock() <= lease
    finally:
        land_tasks(ctx, flight, result)
    assert result.tasks_created == 5
