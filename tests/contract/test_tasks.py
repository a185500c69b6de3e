"""Follow-up tasks: created once, even when the CRM applies a create and answers an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RetriableError, TaskRequest
from sandbox._server import Faults
from tests.contract.adapters import Crm


def _requests(ids: list[str], owner: str, version: int = 1) -> list[TaskRequest]:
    due = datetime.now(UTC) + timedelta(minutes=5)
    return [TaskRequest(f"lead/{record}/v{version}/task", record, owner, "Call the new lead",
                        due, "HIGH") for record in ids]


def test_tasks_are_created_for_their_owner(crm: Crm) -> None:
    ids = crm.seed(3, rng_seed=21)
    owner = crm.people[0]
    connector = crm.connector()
    results = connector.create_tasks(_requests(ids, owner), check_existing=False)
    assert all(r.created and r.task_id and r.error is None for r in results)
    assert {r.key for r in results} == {f"lead/{i}/v1/task" for i in ids}
    for record in ids:
        assert crm.task_owners(record) == [owner]
    # asked again after an uncertain outcome: found by its marker, not created twice
    again = connector.create_tasks(_requests(ids, owner), check_existing=True)
    assert {r.task_id for r in again} == {r.task_id for r in results}
    assert not any(r.created for r in again)
    # a later assignment is a different task
    later = connector.create_tasks(_requests(ids[:1], crm.people[1], 2), check_existing=True)
    assert later[0].created and crm.task_owners(ids[0]) == [owner, crm.people[1]]
    connector.close()


def test_an_ambiguous_create_is_not_retried_blindly_and_is_found_afterwards(crm: Crm) -> None:
    ids = crm.seed(4, rng_seed=22)
    owner = crm.people[1]
    connector = crm.connector(sleep=lambda _: None)
    crm.box.clear_log()
    crm.set_faults(Faults(ambiguous_rate=1.0))  # applied, then answered 502
    with pytest.raises(RetriableError):
        connector.create_tasks(_requests(ids, owner), check_existing=False)
    crm.set_faults(Faults())
    # one create request (waiting a moment for a second one): no blind retry
    assert crm.logged("POST", "", 2, timeout=0.3) == 1
    for record in ids:
        assert crm.task_owners(record) == [owner]  # the create happened

    found = connector.create_tasks(_requests(ids, owner), check_existing=True)
    assert len(found) == len(ids)
    assert all(r.task_id and not r.created for r in found)
    for record in ids:
        assert crm.task_owners(record) == [owner]  # exactly one task each
    connector.close()


def test_a_task_is_found_by_its_marker_as_soon_as_it_exists(crm: Crm) -> None:
    """The check after an uncertain create reads the records, never a search index that
    trails writes (HubSpot's search shows a task seconds after its create, or later)."""
    crm.lag_search(600.0)
    ids = crm.seed(3, rng_seed=23)
    owner = crm.people[2]
    connector = crm.connector()
    wanted = _requests(ids, owner)
    assert connector.find_tasks(wanted) == {}
    made = connector.create_tasks(wanted, check_existing=False)
    before = crm.server_calls()
    found = connector.find_tasks([*wanted, *_requests(ids[:1], owner, 2)])
    assert found == {r.key: r.task_id for r in made}
    assert crm.server_calls() - before <= 2  # reads by record, a hundred at a time
    connector.close()
