"""Batch everything: a few API calls per hundred leads, not three per lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import AttemptQuery, OwnerWrite, TaskRequest, batch_size
from connectors.paging import chunked
from tests.contract.adapters import Crm


def test_calls_per_hundred_leads_stay_bounded(crm: Crm) -> None:
    ids = crm.seed(300, rng_seed=51)
    connector = crm.connector()
    size = batch_size(connector)
    before = crm.server_calls()
    page = connector.poll(None, datetime.now(UTC) - timedelta(hours=24), 500)
    assert {lead.crm_id for lead in page.leads} == set(ids)
    owners = crm.people
    now = datetime.now(UTC)
    for part in chunked(ids, size):
        connector.write_owners([OwnerWrite(i, owners[n % 3], frozenset({None, crm.placeholder}))
                                for n, i in enumerate(part)])
        connector.create_tasks([TaskRequest(f"lead/{i}/v1/task", i, owners[n % 3], "Call",
                                            now + timedelta(minutes=5), "HIGH")
                                for n, i in enumerate(part)], check_existing=False)
        connector.contact_attempts([AttemptQuery(i, now, owners[n % 3]) for n, i in
                                    enumerate(part)])
    calls = crm.server_calls() - before
    assert calls <= 6 * 3, calls  # at most 6 calls per 100 leads, all steps together
    # the check after uncertain creates: a few calls per hundred tasks too
    before = crm.server_calls()
    for part in chunked(ids, size):
        found = connector.find_tasks([TaskRequest(f"lead/{i}/v1/task", i, owners[0], "Call",
                                                  now, "HIGH") for i in part])
        assert len(found) == len(part)
    calls = crm.server_calls() - before
    assert calls <= 2 * 3, calls
    connector.close()
