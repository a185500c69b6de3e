"""Leads assigned to one owner with their routing tasks, after a call logged too early; what
was done to them after; and what a connector must report of it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from connectors.base import AttemptState, Connector, OwnerWrite, TaskRequest
from tests.contract.adapters import Crm


def assign_with_tasks(crm: Crm, connector: Connector, ids: list[str], owner: str,
                      early: str) -> tuple[datetime, dict[str, str | None]]:
    """`early` gets a call before the assignment (not an attempt on our clock); then every
    lead is written to `owner` with a task due in 5 min. The assignment time and task ids."""
    crm.log_call(early, owner)
    time.sleep(0.05)
    assigned_at = datetime.now(UTC)
    connector.write_owners([OwnerWrite(i, owner, frozenset({None, crm.placeholder}))
                            for i in ids])
    due = assigned_at + timedelta(minutes=5)
    tasks = {r.key.split("/")[1]: r.task_id for r in connector.create_tasks(
        [TaskRequest(f"lead/{i}/v1/task", i, owner, "Call", due, "MEDIUM") for i in ids],
        check_existing=False)}
    return assigned_at, tasks


def act_after_assignment(crm: Crm, tasks: dict[str, str | None], owner: str, *, called: str,
                         moved: str, done: str, reassigned: str) -> bool:
    """A call, a status moved (where the CRM has one), the routing task done, an owner
    changed by hand. False when `moved` could not be moved (Salesforce contacts)."""
    time.sleep(0.01)
    crm.log_call(called, owner)
    can_move = crm.kind != "salesforce" or getattr(crm, "sobject", "Lead") == "Lead"
    if can_move:
        crm.move_status(moved)
    task_id = tasks[done]
    assert task_id is not None
    crm.complete_task(task_id)
    crm.set_owner_by_hand(reassigned, crm.people[2])
    return can_move


def assert_acted_on(crm: Crm, states: Mapping[str, AttemptState], assigned_at: datetime, *,
                    called: str, moved: str, done: str, reassigned: str,
                    can_move: bool) -> None:
    """What `act_after_assignment` did, as the connector reports it: the call (after the
    assignment), the status moved, the task done, and the person's owner with no attempt."""
    assert states[called].signal in crm.attempt_signals
    attempted = states[called].attempted_at
    assert attempted is not None and attempted >= assigned_at
    if can_move:
        assert states[moved].signal == crm.status_signal
    assert states[done].signal == "task_done"
    assert states[reassigned].attempted_at is None
    assert states[reassigned].owner_id == crm.people[2]  # a person's reassignment shows
