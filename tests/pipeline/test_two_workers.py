"""A second worker is safe: on PostgreSQL two workers never decide the same lead; on SQLite a
second process is refused at start.

Real PostgreSQL server, the HubSpot sandbox over HTTPS, the real pipeline in two threads with
their own contexts (their own connection pools), started together.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from state import AuditKind
from state.errors import StoreError
from sync.context import Context
from sync.cycle import CycleResult, run_cycle
from tests.conftest import PgServer
from tests.pipeline.conftest import hubspot_context, lead_rows, seed


def test_two_workers_on_postgresql_never_route_a_lead_twice(
        box: HubSpotSandbox, tmp_path: Path, pg_server: PgServer) -> None:
    ids = seed(box, 400)
    url = pg_server.new_database()
    workers = [hubspot_context(box, url) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[CycleResult] = []
    errors: list[BaseException] = []

    def work(ctx: Context) -> None:
        try:
            start.wait()
            results.append(run_cycle(ctx))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ctx,)) for ctx in workers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors
        assert sum(r.routing.routed for r in results) == 400
        run_cycle(workers[0])  # whatever a race left pending is applied now
        with workers[0].store.unit_of_work(read_only=True) as uow:
            decisions = Counter(row.crm_id for cid in ids
                                for row in uow.audit.for_lead("hubspot", cid)
                                if row.kind == AuditKind.DECISION.value)
        assert set(decisions.values()) == {1}, "a lead was decided twice"
        rows = lead_rows(workers[0])
        assert all(rows[cid].assignment == 1 for cid in ids)
        assert Counter(rows[cid].status for cid in ids) == {"task_created": 400}
        assert all(len(box.tasks_for(cid)) == 1 for cid in ids)
    finally:
        for ctx in workers:
            ctx.close()


def test_a_second_process_on_one_sqlite_file_is_refused_with_a_clear_message(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = hubspot_context(box, url)
    try:
        with pytest.raises(StoreError, match=r"another leadrouter process .* is already "
                           r"running on the SQLite state file .*PostgreSQL"):
            hubspot_context(box, url)
    finally:
        first.close()
    hubspot_context(box, url).close()  # free again once the first one has stopped
