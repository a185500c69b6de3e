"""Owner writes: compare before write, a person's choice wins, inactive owners never used."""

from __future__ import annotations

from connectors.base import OwnerWrite, WriteOutcome
from routing.models import Coordinator
from sync.owners import resolve_owners
from tests.contract.adapters import Crm


def test_owner_write_compares_first_and_respects_a_person(crm: Crm) -> None:
    first, second, person = crm.people
    ids = crm.seed(5, rng_seed=11)
    fresh, by_hand, ours, held, gone = ids
    crm.set_owner_by_hand(by_hand, person)  # a person chose an owner since we polled
    crm.set_owner_by_hand(held, crm.placeholder)
    connector = crm.connector()
    assert [r.outcome for r in connector.write_owners(
        [OwnerWrite(ours, first, frozenset({None, crm.placeholder}))])] == [WriteOutcome.WRITTEN]

    replaceable = frozenset({None, crm.placeholder})
    results = {r.crm_id: r for r in connector.write_owners([
        OwnerWrite(fresh, first, replaceable),
        OwnerWrite(by_hand, first, replaceable),
        OwnerWrite(ours, second, frozenset({None, crm.placeholder, first})),  # re-route
        OwnerWrite(held, first, replaceable),
    ])}
    assert results[fresh].outcome is WriteOutcome.WRITTEN and crm.owner_now(fresh) == first
    assert results[by_hand].outcome is WriteOutcome.OVERRIDDEN
    assert results[by_hand].current_owner == person and crm.owner_now(by_hand) == person
    assert results[ours].outcome is WriteOutcome.WRITTEN and crm.owner_now(ours) == second
    assert results[held].outcome is WriteOutcome.WRITTEN and crm.owner_now(held) == first

    again = connector.write_owners([OwnerWrite(fresh, first, replaceable)])
    assert [r.outcome for r in again] == [WriteOutcome.ALREADY]
    assert crm.owner_now(gone) == crm.unowned  # untouched
    connector.close()


def test_inactive_owners_are_reported_and_never_resolved(crm: Crm) -> None:
    connector = crm.connector()
    owners = {o.id: o for o in connector.owners()}
    assert owners[crm.inactive].active is False
    assert all(owners[p].active and not owners[p].is_queue for p in crm.people)
    if crm.unowned is not None and crm.unowned != crm.placeholder:
        assert owners[crm.unowned].is_queue
    directory = resolve_owners({
        "gone": Coordinator("gone", crm_owner_id=crm.inactive),
        "here": Coordinator("here", crm_owner_id=crm.people[0]),
    }, list(owners.values()))
    assert "gone" not in directory.owner_of and "gone" in directory.unusable
    assert directory.owner_of["here"] == crm.people[0]
    connector.close()
