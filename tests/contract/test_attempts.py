"""Contact attempts after the assignment: call logged, status moved, routing task done."""

from __future__ import annotations

from connectors.base import AttemptQuery
from tests.contract.adapters import Crm
from tests.contract.assigned import act_after_assignment, assert_acted_on, assign_with_tasks


def test_attempt_signals_after_assignment_only(crm: Crm) -> None:
    ids = crm.seed(6, rng_seed=31)
    called, moved, done, idle, early, reassigned = ids
    owner = crm.people[0]
    connector = crm.connector()
    assigned_at, tasks = assign_with_tasks(crm, connector, ids, owner, early)
    can_move = act_after_assignment(crm, tasks, owner, called=called, moved=moved, done=done,
                                    reassigned=reassigned)

    before = crm.server_calls()
    states = {s.crm_id: s for s in connector.contact_attempts(
        [AttemptQuery(i, assigned_at, owner, tasks[i]) for i in ids])}
    assert crm.server_calls() - before <= 4  # batched: never a call per lead

    assert_acted_on(crm, states, assigned_at, called=called, moved=moved, done=done,
                    reassigned=reassigned, can_move=can_move)
    for record in (idle, early, reassigned):
        assert states[record].attempted_at is None and states[record].signal is None
    assert states[idle].owner_id == owner and all(s.exists for s in states.values())
    connector.close()
