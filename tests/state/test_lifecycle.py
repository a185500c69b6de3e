"""The lead lifecycle: every legal transition does what the table says, with its audit row,
its stored event, its subscribers and its log line; every other pair is refused and changes
nothing; and no other module of `sync/` writes a status."""

from __future__ import annotations

import ast
import io
import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from state import LeadEventRecord, LeadStatus, Store, UnitOfWork, open_store
from sync.lifecycle import (
    TRANSITIONS,
    Arrival,
    Assignment,
    Change,
    IllegalTransition,
    LeadEvent,
    arrive,
    arrive_many,
    next_status,
    transition,
    transition_many,
)
from sync.logs import configure_logging
from sync.subscribers import EventBus

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CRM = "hubspot"
ASSIGNING = {LeadEvent.ROUTED, LeadEvent.REASSIGNED, LeadEvent.ESCALATED_FINAL}
ALL_PAIRS = [(state, event) for state in (None, *LeadStatus) for event in LeadEvent]
LEGAL = sorted(TRANSITIONS, key=lambda pair: (str(pair[0]), pair[1].value))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]
SYNC = Path(__file__).resolve().parents[2] / "sync"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite store for the table walks (each case uses a lead of its own)."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('lifecycle') / 'state.db'}")
    yield store
    store.close()


@dataclass
class Running:
    """The two things a change needs of the running service (the lifecycle's port)."""

    crm: str = CRM
    events: EventBus = field(default_factory=EventBus)


def _lead_in(uow: UnitOfWork, crm_id: str, state: LeadStatus) -> None:
    """A stored lead in `state`, written with the storage primitives (test set-up)."""
    assert uow.leads.add_seen(CRM, crm_id, T0, {"insurance": "commercial"}, now=T0)
    uow.leads.update(CRM, crm_id, status=state, owner="maria", crm_owner_id="1001",
                     sla_due=T0 + timedelta(minutes=5), now=T0)


def _counts(uow: UnitOfWork, crm_id: str) -> tuple[int, int]:
    return len(uow.audit.for_lead(CRM, crm_id)), len(uow.events.for_lead(CRM, crm_id))


@pytest.mark.parametrize(("state", "event"), LEGAL, ids=lambda v: str(getattr(v, "value", v)))
def test_every_legal_transition_moves_the_lead_and_records_it_once(
    shared: Store, state: LeadStatus | None, event: LeadEvent
) -> None:
    running = Running()
    heard: list[LeadEventRecord] = []
    running.events.subscribe(lambda _uow, e: heard.append(e))
    now = T0 + timedelta(minutes=1)
    crm_id = str(next(_ids))
    with shared.unit_of_work() as uow:
        if state is None:
            lead = arrive(uow, running, crm_id, T0, {}, now, event=event)
            assert lead is not None
        else:
            _lead_in(uow, crm_id, state)
            assignment = (Assignment("li", "1002", "commercial", now + timedelta(minutes=5))
                          if event in ASSIGNING else None)
            lead = transition(uow, running, crm_id, event, now, assignment=assignment)
        uow.commit()
    target = TRANSITIONS[(state, event)]
    assert lead.status == target
    with shared.unit_of_work(read_only=True) as uow:
        stored = uow.leads.get(CRM, crm_id)
        assert stored is not None and stored.status == target
        (event_row,) = uow.events.for_lead(CRM, crm_id)
        audits = uow.audit.for_lead(CRM, crm_id)
    assert (event_row.event, event_row.from_status, event_row.to_status) == (
        event.value, None if state is None else state.value, target.value)
    assert event_row.portal == "default" and event_row.audit_id == audits[0].id
    assert len(audits) == 1
    assert heard == [event_row]
    if event in ASSIGNING:
        assert (stored.owner, stored.assignment) == ("li", 1)


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=lambda v: str(getattr(v, "value", v)))
def test_an_illegal_transition_is_refused_and_changes_nothing(
    shared: Store, state: LeadStatus | None, event: LeadEvent
) -> None:
    with pytest.raises(IllegalTransition, match=event.value):
        next_status(state, event)
    crm_id = str(next(_ids))
    if state is None:
        with shared.unit_of_work() as uow, pytest.raises(IllegalTransition):
            arrive(uow, Running(), crm_id, T0, {}, T0, event=event)
        return
    with shared.unit_of_work() as uow:
        _lead_in(uow, crm_id, state)
        before = uow.leads.get(CRM, crm_id)
        with pytest.raises(IllegalTransition):
            transition(uow, Running(), crm_id, event, T0 + timedelta(minutes=1))
        assert uow.leads.get(CRM, crm_id) == before
        assert _counts(uow, crm_id) == (0, 0)


def test_the_table_covers_every_state_and_every_event() -> None:
    reached = {target for target in TRANSITIONS.values()}
    assert reached == set(LeadStatus), "a state no event leads to"
    assert {event for _, event in TRANSITIONS} == set(LeadEvent), "an event never legal"
    assert len(LEGAL) + len(ILLEGAL) == len(ALL_PAIRS)


def test_a_subscriber_acts_inside_the_change_and_is_undone_with_it(store: Store) -> None:
    running = Running()
    running.events.subscribe(
        lambda uow, e: uow.cursors.set(f"heard:{e.event}", e.crm_id, now=e.at),
        events=[LeadEvent.HELD])
    with store.unit_of_work() as uow:
        _lead_in(uow, "1", LeadStatus.SEEN)
        _lead_in(uow, "2", LeadStatus.SEEN)
        uow.commit()
    with store.unit_of_work() as uow:
        transition(uow, running, "1", LeadEvent.UNROUTABLE, T0)  # not subscribed
        assert uow.cursors.get("heard:unroutable") is None
        transition(uow, running, "2", LeadEvent.HELD, T0)
        assert uow.cursors.get("heard:held") == "2"
        uow.rollback()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.cursors.get("heard:held") is None
        assert _counts(uow, "2") == (0, 0)
        lead = uow.leads.get(CRM, "2")
        assert lead is not None and lead.status == LeadStatus.SEEN


def test_a_routing_change_logs_one_canonical_line_of_ids(store: Store) -> None:
    with store.unit_of_work() as uow, capture_logs() as logs:
        _lead_in(uow, "1", LeadStatus.SEEN)
        transition(uow, Running(), "1", LeadEvent.ROUTED, T0, facts={"reason": "round_robin"},
                   assignment=Assignment("li", "1002", "commercial", T0 + timedelta(minutes=5)))
    lines = [line for line in logs if line["event"].startswith("lead.")]
    assert [(line["event"], line["lead"], line["owner"], line["rule"], line["reason"])
            for line in lines] == [("lead.routed", "1", "li", "commercial", "round_robin")]


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_a_batch_logs_its_debug_lines_only_when_debug_is_on(store: Store, level: int) -> None:
    """The lifecycle skips building lines the configured level filters out; what it logs
    is the same as before at either level."""
    buffer = io.StringIO()
    configure_logging("json", level=level, stream=buffer)
    try:
        running = Running()
        with store.unit_of_work() as uow:
            arrive_many(uow, running, [Arrival("1", T0, {}), Arrival("2", T0, {})], T0)
            transition_many(uow, running, [
                Change("1", LeadEvent.ROUTED, facts={"reason": "round_robin"},
                       assignment=Assignment("li", "1002", "commercial", None)),
                Change("2", LeadEvent.HELD, rule="nights", facts={"reason": "after_hours"})], T0)
            uow.commit()
    finally:
        structlog.reset_defaults()
    logged = [json.loads(line) for line in buffer.getvalue().splitlines()]
    events = [(line["event"], line["lead"]) for line in logged
              if str(line["event"]).startswith("lead.")]
    debug = [("lead.arrived", "1"), ("lead.arrived", "2")] if level == logging.DEBUG else []
    assert events == [*debug, ("lead.routed", "1"), ("lead.held", "2")]


def test_a_reassigned_lead_is_reassigned_not_routed_again(store: Store) -> None:
    running = Running()
    with store.unit_of_work() as uow:
        assert arrive(uow, running, "1", T0, {}, T0) is not None
        transition(uow, running, "1", LeadEvent.ROUTED, T0,
                   assignment=Assignment("maria", "1001", "r", T0 + timedelta(minutes=5)))
        transition(uow, running, "1", LeadEvent.BREACHED, T0 + timedelta(minutes=6))
        lead = transition(uow, running, "1", LeadEvent.REASSIGNED, T0 + timedelta(minutes=6),
                          assignment=Assignment("li", "1002", "r", T0 + timedelta(minutes=11)))
        assert (lead.status, lead.assignment, lead.reassignments) == ("reassigned", 2, 1)
        assert lead.excluded == ["maria"]
        trail = [(e.event, e.to_status, e.assignment) for e in uow.events.for_lead(CRM, "1")]
    assert trail == [("arrived", "seen", 0), ("routed", "routed", 1),
                     ("breached", "breached", 1), ("reassigned", "reassigned", 2)]


def _batch(now: datetime) -> list[Change]:
    """Changes of several leads, one of them changed twice (in order)."""
    due = now + timedelta(minutes=5)
    return [
        Change("1", LeadEvent.ROUTED, facts={"reason": "round_robin"},
               explanation={"steps": [{"kind": "rule", "detail": "r", "coordinator": None}]},
               assignment=Assignment("li", "1002", "r", due)),
        Change("2", LeadEvent.HELD, rule="r", facts={"release_at": due.isoformat()},
               fields={"held_until": due}),
        Change("1", LeadEvent.OWNER_WRITTEN, coordinator="li",
               facts={"crm_owner": "1002", "for_assignment": 1},
               fields={"owner_written_at": now}),
        Change("3", LeadEvent.SKIPPED, fields={"crm_owner_id": "1009"},
               facts={"why": "owned by a person"}),
    ]


def _trail(store: Store) -> list[tuple[object, ...]]:
    """Everything the changes stored, without row ids."""
    with store.unit_of_work(read_only=True) as uow:
        out: list[tuple[object, ...]] = []
        for crm_id in ("1", "2", "3"):
            lead = uow.leads.get(CRM, crm_id)
            assert lead is not None
            out.append(("lead", *[v for k, v in vars_of(lead).items() if k != "id"]))
            out += [("event", e.crm_id, e.event, e.from_status, e.to_status, e.assignment,
                     e.coordinator, e.rule, e.at, dict(e.detail), e.audit_id is not None)
                    for e in uow.events.for_lead(CRM, crm_id)]
            out += [("audit", a.crm_id, a.kind, a.coordinator, a.rule, a.at, dict(a.detail))
                    for a in uow.audit.for_lead(CRM, crm_id)]
    return out


def vars_of(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}  # type: ignore[attr-defined]


def test_a_batch_of_changes_stores_what_the_same_changes_one_by_one_store(
        tmp_path: Path) -> None:
    now = T0 + timedelta(minutes=1)
    stores = [open_store(f"sqlite:///{tmp_path / name}.db") for name in ("one", "batch")]
    heard: list[list[tuple[str, str]]] = [[], []]
    for store, log in zip(stores, heard, strict=True):
        running = Running()
        running.events.subscribe(lambda _uow, e, log=log: log.append((e.crm_id, e.event)))
        with store.unit_of_work() as uow:
            for crm_id in ("1", "2", "3"):
                _lead_in(uow, crm_id, LeadStatus.SEEN)
            if store is stores[0]:
                for c in _batch(now):
                    transition(uow, running, c.crm_id, c.event, now, coordinator=c.coordinator,
                               rule=c.rule, facts=c.facts, explanation=c.explanation,
                               assignment=c.assignment, **c.fields)
            else:
                leads = transition_many(uow, running, _batch(now), now)
                assert [lead.status for lead in leads] == ["routed", "held", "owner_written",
                                                           "skipped"]
            uow.commit()
    assert _trail(stores[1]) == _trail(stores[0])
    assert heard[1] == heard[0] == [("1", "routed"), ("2", "held"), ("1", "owner_written"),
                                    ("3", "skipped")]
    with stores[1].unit_of_work(read_only=True) as uow:  # each event points at its own audit
        events = uow.events.for_lead(CRM, "1")
        audits = uow.audit.by_ids(e.audit_id for e in events if e.audit_id is not None)
    assert [(e.event, audits[e.audit_id].kind) for e in events if e.audit_id is not None] == [
        ("routed", "decision"), ("owner_written", "owner_written")]
    for store in stores:
        store.close()


def test_a_batch_with_one_illegal_change_is_refused_whole_and_changes_nothing(
        store: Store) -> None:
    now = T0 + timedelta(minutes=1)
    with store.unit_of_work() as uow:
        for crm_id in ("1", "2", "3"):
            _lead_in(uow, crm_id, LeadStatus.SEEN)
        before = [uow.leads.get(CRM, i) for i in ("1", "2", "3")]
        illegal = [*_batch(now), Change("2", LeadEvent.CONTACTED)]  # held leads are not called
        with pytest.raises(IllegalTransition, match="contacted"):
            transition_many(uow, Running(), illegal, now)
        assert [uow.leads.get(CRM, i) for i in ("1", "2", "3")] == before
        assert [_counts(uow, i) for i in ("1", "2", "3")] == [(0, 0)] * 3


def test_a_batch_of_arrivals_records_each_new_lead_once_and_leaves_known_ones(
        store: Store) -> None:
    running = Running()
    with store.unit_of_work() as uow:
        assert arrive(uow, running, "known", T0, {}, T0) is not None
        new = arrive_many(uow, running, [
            Arrival("a", T0, {"insurance": "medicaid"}), Arrival("known", T0, {}),
            Arrival("a", T0, {"insurance": "other"}),  # the first of a CRM id counts
            Arrival("b", T0, {}, event=LeadEvent.SET_ASIDE, fields={"crm_owner_id": "9"})],
            T0 + timedelta(minutes=1))
        uow.commit()
    assert sorted(new) == ["a", "b"]
    assert (new["a"].status, new["a"].attributes) == ("seen", {"insurance": "medicaid"})
    assert (new["b"].status, new["b"].crm_owner_id) == ("set_aside", "9")
    with store.unit_of_work(read_only=True) as uow:
        assert [_counts(uow, i) for i in ("a", "b", "known")] == [(1, 1)] * 3


_STATUS_WRITERS = {"assign", "mark_breached"}


def _writes_status(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in _STATUS_WRITERS:
        return True
    return name in {"update", "add_seen"} and any(k.arg == "status" for k in node.keywords)


def test_no_module_but_the_lifecycle_writes_a_lead_status() -> None:
    offenders = []
    for path in sorted(SYNC.rglob("*.py")):
        if path.name == "lifecycle.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _writes_status(node):
                offenders.append(f"{path.relative_to(SYNC.parent)}:{node.lineno}")
    assert offenders == []
