"""Contact attempts by activity: what changed since the last scan, at a cost that does not
grow with the number of open leads."""

from __future__ import annotations

from connectors.base import AttemptQuery, attempts_since
from tests.contract.adapters import Crm
from tests.contract.assigned import act_after_assignment, assert_acted_on, assign_with_tasks


def test_activity_since_the_last_scan_shows_the_same_signals_as_a_read(crm: Crm) -> None:
    ids = crm.seed(7, rng_seed=41)
    called, moved, done, idle, early, reassigned, quiet = ids
    owner = crm.people[0]
    connector = crm.connector()
    assigned_at, tasks = assign_with_tasks(crm, connector, ids, owner, early)
    queries = [AttemptQuery(i, assigned_at, owner, tasks[i]) for i in ids]

    first = attempts_since(connector, queries, None)
    assert first is not None and first.complete
    assert [s.crm_id for s in first.states] == []  # our own writes are not activity

    can_move = act_after_assignment(crm, tasks, owner, called=called, moved=moved, done=done,
                                    reassigned=reassigned)

    before = crm.server_calls()
    scan = attempts_since(connector, queries, first.watermark)
    assert crm.server_calls() - before <= 2  # searches (or one Composite), not reads
    assert scan is not None and scan.complete and scan.watermark >= first.watermark
    states = {s.crm_id: s for s in scan.states}
    assert_acted_on(crm, states, assigned_at, called=called, moved=moved, done=done,
                    reassigned=reassigned, can_move=can_move)
    # leads with nothing new are left out: the caller keeps what it knew
    assert not {idle, early, quiet} & set(states)
    connector.close()
