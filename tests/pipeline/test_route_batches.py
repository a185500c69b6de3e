"""Routing takes the leads waiting a batch per transaction, and no transaction more.

Real parts only: the HubSpot sandbox over HTTPS, the real connector, a SQLite store; the
transactions are counted on the store's own engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from sandbox.hubspot import HubSpotSandbox
from state import LeadStatus
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
