"""Repository behaviour, the same checks on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from routing.models import PointerUpdate, Step
from state import (
    AuditKind,
    LeadStatus,
    OutboxKind,
    OutboxStatus,
    Store,
    outbox_key,
    steps_detail,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HS = "hubspot"


def _seed(store: Store, *ids: str) -> None:
    with store.unit_of_work() as uow:
        for i, crm_id in enumerate(ids):
            uow.leads.add_seen(HS, crm_id, T0 + timedelta(seconds=i), {"state": "CA"}, now=T0)
        uow.commit()


# -- leads ---------------------------------------------------------------------------------


def test_add_seen_is_idempotent_and_keeps_first_row(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.leads.add_seen(HS, "101", T0, {"insurance": "PPO", "state": "CA"}, now=T0)
        assert not uow.leads.add_seen(HS, "101", T0, {"insurance": "medicaid"}, now=T0)
        # same id in the other CRM is another lead
        assert uow.leads.add_seen("salesforce", "101", T0, {}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        lead = uow.leads.get(HS, "101")
        assert lead is not None
        assert lead.status == LeadStatus.SEEN
        assert lead.attributes == {"insurance": "PPO", "state": "CA"}
        assert lead.assignment == 0
        assert lead.excluded == []
        assert lead.first_seen_at == T0
        assert uow.leads.get(HS, "nope") is None


def test_new_leads_records_are_what_a_later_read_returns(store: Store) -> None:
    """`add_seen_many` builds the new leads' records from what it inserted rather than
    reading them back: they must equal the stored rows, field for field."""
    eastern = timezone(timedelta(hours=-5))
    leads = [("201", datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=eastern),
              {"insurance": "PPO", "source": "ppc"}), ("202", T0, {})]
    with store.unit_of_work() as uow:
        uow.leads.add_seen(HS, "202", T0, {"state": "CA"}, now=T0)  # known: not returned
        uow.commit()
    with store.unit_of_work() as uow:
        built = uow.leads.add_seen_many(HS, leads, now=T0 + timedelta(seconds=1))
        uow.commit()
    assert set(built) == {"201"}
    with store.unit_of_work() as uow:
        assert uow.leads.get(HS, "201") == built["201"]
        assert built["201"].id is not None and built["201"].source == "ppc"


def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    created = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=eastern)
    with store.unit_of_work() as uow:
        uow.leads.add_seen(HS, "1", created, {}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        lead = uow.leads.get(HS, "1")
        assert lead is not None
        assert lead.created_at == created
        assert lead.created_at.tzinfo == UTC
        assert lead.created_at.hour == 14


def test_naive_datetimes_are_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="naive"):
        uow.leads.add_seen(HS, "1", datetime(2026, 1, 1), {}, now=T0)


@pytest.mark.parametrize("name", ["email", "firstname", "Phone", "mobile_phone", "notes"])
def test_phi_attribute_names_are_refused_without_echoing_values(store: Store, name: str) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError) as info:
        uow.leads.add_seen(HS, "1", T0, {name: "jane.doe@example.com"}, now=T0)
    assert "jane" not in str(info.value)


def test_long_attribute_values_are_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="too long") as info:
        uow.leads.add_seen(HS, "1", T0, {"source": "x" * 500}, now=T0)
    assert "xxx" not in str(info.value)


def test_assign_breach_and_reassign(store: Store) -> None:
    _seed(store, "1")
    t1 = T0 + timedelta(minutes=1)
    with store.unit_of_work() as uow:
        lead = uow.leads.assign(
            HS, "1", owner="maria", crm_owner_id="1001", rule="commercial",
            sla_due=t1 + timedelta(minutes=5), now=t1,
        )  # fmt: skip
        assert (lead.assignment, lead.status, lead.reassignments) == (1, "routed", 0)
        assert outbox_key(lead.crm_id, lead.assignment, OutboxKind.TASK) == "lead/1/v1/task"
        uow.commit()
    t2 = t1 + timedelta(minutes=6)
    with store.unit_of_work() as uow:
        lead = uow.leads.mark_breached(HS, "1", now=t2)
        assert lead.status == LeadStatus.BREACHED
        assert lead.excluded == ["maria"]
        lead = uow.leads.assign(
            HS, "1", owner="li", crm_owner_id="1002", rule="commercial",
            sla_due=t2 + timedelta(minutes=5), now=t2,
        )  # fmt: skip
        uow.commit()
    with store.unit_of_work() as uow:
        row = uow.leads.get(HS, "1")
        assert row is not None
        lead = row
        assert (lead.assignment, lead.reassignments) == (2, 1)
        assert (lead.owner, lead.previous_owner, lead.crm_owner_id) == ("li", "maria", "1002")
        assert lead.assigned_at == t2
        assert lead.excluded == ["maria"]


def test_the_scans_watch_list_holds_the_leads_values_in_creation_order(store: Store) -> None:
    _seed(store, "1", "2", "3")
    with store.unit_of_work() as uow:
        uow.leads.assign(HS, "2", owner="maria", crm_owner_id="1001", rule="commercial",
                         sla_due=T0 + timedelta(minutes=5), now=T0)
        uow.leads.assign(HS, "1", owner="li", crm_owner_id="1002", rule=None, sla_due=None,
                         now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        watched = uow.leads.watched(LeadStatus.ROUTED)
        assert [w.crm_id for w in watched] == ["1", "2"]  # "3" is only seen
        for w in watched:
            lead = uow.leads.get(HS, w.crm_id)
            assert lead is not None
            assert (w.status, w.assignment, w.crm_owner_id, w.assigned_at, w.sla_due,
                    w.contacted_at) == (lead.status, lead.assignment, lead.crm_owner_id,
                                        lead.assigned_at, lead.sla_due, lead.contacted_at)


def test_update_validates_fields_and_status(store: Store) -> None:
    _seed(store, "1")
    with store.unit_of_work() as uow:
        lead = uow.leads.update(
            HS, "1", status=LeadStatus.HELD, held_until=T0 + timedelta(hours=8), now=T0
        )
        assert lead.status == "held"
        with pytest.raises(ValueError):
            uow.leads.update(HS, "1", status="bogus")
        with pytest.raises(TypeError):
            uow.leads.update(HS, "1", first_seen_at=T0)
        with pytest.raises(LookupError):
            uow.leads.update(HS, "missing", status="routed")
        uow.commit()
    with store.unit_of_work() as uow:
        row = uow.leads.get(HS, "1")
        assert row is not None and row.held_until == T0 + timedelta(hours=8)


def test_open_counts_count_only_assigned_uncontacted(store: Store) -> None:
    statuses = {
        "a": ("maria", LeadStatus.ROUTED),
        "b": ("maria", LeadStatus.OWNER_WRITTEN),
        "c": ("maria", LeadStatus.TASK_CREATED),
        "d": ("li", LeadStatus.BREACHED),
        "e": ("li", LeadStatus.CONTACTED),
        "f": ("li", LeadStatus.OVERRIDDEN),
        "g": ("li", LeadStatus.ESCALATED_FINAL),
        "h": ("sam", LeadStatus.SKIPPED),
        "i": (None, LeadStatus.HELD),
        "j": (None, LeadStatus.SEEN),
    }
    _seed(store, *statuses)
    with store.unit_of_work() as uow:
        for crm_id, (owner, status) in statuses.items():
            uow.leads.update(HS, crm_id, owner=owner, status=status, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.leads.open_counts() == {"maria": 3, "li": 1}
        counts = uow.leads.count_by_status()
        assert counts["routed"] == 1 and counts["held"] == 1 and sum(counts.values()) == 10
        roster = uow.pointers.load_roster(frozenset({"sam"}))
        assert dict(roster.open_counts) == {"maria": 3, "li": 1}
        assert roster.away == frozenset({"sam"})


def test_due_for_sla_and_held_due(store: Store) -> None:
    _seed(store, "late", "later", "ok", "contacted", "held", "held-later")
    with store.unit_of_work() as uow:
        for crm_id, minutes in (("late", 1), ("later", 3), ("ok", 30), ("contacted", 1)):
            uow.leads.assign(
                HS, crm_id, owner="maria", crm_owner_id=None, rule="r",
                sla_due=T0 + timedelta(minutes=minutes), now=T0,
            )  # fmt: skip
        uow.leads.update(HS, "later", status=LeadStatus.TASK_CREATED)
        uow.leads.update(HS, "contacted", status=LeadStatus.CONTACTED, contacted_at=T0)
        uow.leads.update(HS, "held", status="held", held_until=T0 + timedelta(minutes=2))
        uow.leads.update(HS, "held-later", status="held", held_until=T0 + timedelta(hours=9))
        uow.commit()
    now = T0 + timedelta(minutes=5)
    with store.unit_of_work() as uow:
        assert [r.crm_id for r in uow.leads.due_for_sla(now)] == ["late", "later"]
        assert [r.crm_id for r in uow.leads.due_for_sla(now, lock=True, limit=1)] == ["late"]
        assert [r.crm_id for r in uow.leads.held_due(now)] == ["held"]
        assert [r.crm_id for r in uow.leads.held_due(now, lock=True)] == ["held"]
        assert [r.crm_id for r in uow.leads.by_status("routed", "task_created")] == [
            "late",
            "later",
            "ok",
        ]
        assert [r.crm_id for r in uow.leads.by_status(owner="maria", limit=2)] == ["late", "later"]


# -- pointers and cursors ------------------------------------------------------------------


def test_pointers_round_trip_into_roster(store: Store) -> None:
    with store.unit_of_work() as uow:
        roster = uow.pointers.load_roster()
        assert dict(roster.last_assigned) == {} and dict(roster.weights) == {}
        uow.pointers.save_pointer(PointerUpdate("rule:a", last_assigned="maria"))
        uow.pointers.save_pointer(PointerUpdate("rule:b", weights={"maria": 2, "li": -1}))
        uow.pointers.save_pointer(PointerUpdate("rule:a", weights={"maria": 1}))
        uow.pointers.save_pointer(PointerUpdate("rule:b", last_assigned="li"))
        uow.pointers.save_pointer(PointerUpdate("rule:c"))
        uow.commit()
    with store.unit_of_work() as uow:
        roster = uow.pointers.load_roster()
        assert dict(roster.last_assigned) == {"rule:a": "maria", "rule:b": "li"}
        assert {k: dict(v) for k, v in roster.weights.items()} == {
            "rule:a": {"maria": 1},
            "rule:b": {"maria": 2, "li": -1},
        }
        assert uow.pointers.get("rule:c") == PointerUpdate("rule:c", None, {})
        assert uow.pointers.get("nope") is None


def test_cursors(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.cursors.get("hubspot:contacts") is None
        uow.cursors.set("hubspot:contacts", "2026-03-02T14:00:00Z", now=T0)
        uow.cursors.set("hubspot:contacts", "2026-03-02T15:00:00Z", now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.cursors.get("hubspot:contacts") == "2026-03-02T15:00:00Z"
        assert uow.cursors.all() == {"hubspot:contacts": "2026-03-02T15:00:00Z"}


# -- outbox --------------------------------------------------------------------------------


def test_outbox_enqueue_is_idempotent_by_key(store: Store) -> None:
    key = outbox_key("1", 1, "task")
    with store.unit_of_work() as uow:
        assert uow.outbox.enqueue(key, HS, "1", OutboxKind.TASK, {"subject": "Call"}, now=T0)
        assert not uow.outbox.enqueue(key, HS, "1", OutboxKind.TASK, {"subject": "X"}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        assert not uow.outbox.enqueue(key, HS, "1", "task", {}, now=T0)
        rows = uow.outbox.pending(10, T0)
        assert len(rows) == 1 and rows[0].payload == {"subject": "Call"}


def test_outbox_pending_order_retry_done_and_failed(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.outbox.enqueue("lead/1/v1/owner", HS, "1", "owner", {"owner": "1001"}, now=T0)
        uow.outbox.enqueue("lead/1/v1/task", HS, "1", "task", {}, now=T0)
        uow.outbox.enqueue("lead/2/v1/owner", HS, "2", "owner", {}, now=T0)
        uow.outbox.enqueue(
            "lead/3/v1/metadata", HS, "3", "metadata", {}, now=T0,
            not_before=T0 + timedelta(minutes=1),
        )  # fmt: skip
        uow.commit()
    with store.unit_of_work() as uow:
        rows = uow.outbox.pending(10, T0)
        assert [r.key for r in rows] == ["lead/1/v1/owner", "lead/1/v1/task", "lead/2/v1/owner"]
        assert [r.key for r in uow.outbox.pending(10, T0, kind="task")] == ["lead/1/v1/task"]
        assert len(uow.outbox.pending(2, T0 + timedelta(minutes=2), lock=True)) == 2
        owner, task, other = rows
        assert owner.id is not None and task.id is not None and other.id is not None
        uow.outbox.mark_done(owner.id, None, now=T0)
        uow.outbox.mark_failed(task.id, "HTTP 503 " + "x" * 500, T0 + timedelta(seconds=30))
        uow.outbox.mark_failed(other.id, "HTTP 400", None)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbox.pending(10, T0) == []
        due = uow.outbox.pending(10, T0 + timedelta(minutes=1))
        assert [r.key for r in due] == ["lead/1/v1/task", "lead/3/v1/metadata"]
        assert due[0].attempts == 1 and due[0].last_error is not None
        assert len(due[0].last_error) == 200
        assert due[0].id is not None
        uow.outbox.mark_done(due[0].id, "task-987", now=T0 + timedelta(minutes=1))
        uow.commit()
    with store.unit_of_work() as uow:
        task_row = uow.outbox.get("lead/1/v1/task")
        assert task_row is not None
        assert (task_row.status, task_row.result, task_row.last_error) == ("done", "task-987", None)
        failed = uow.outbox.get("lead/2/v1/owner")
        assert failed is not None and failed.status == OutboxStatus.FAILED and failed.attempts == 1
        assert uow.outbox.count_by_status() == {"done": 2, "failed": 1, "pending": 1}
        with pytest.raises(LookupError):
            uow.outbox.mark_done(999_999)


def test_outbox_cancel_for_lead(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.outbox.enqueue("lead/1/v1/owner", HS, "1", "owner", {}, now=T0)
        uow.outbox.enqueue("lead/1/v1/task", HS, "1", "task", {}, now=T0)
        uow.outbox.enqueue("lead/1/v1/metadata", HS, "1", "metadata", {}, now=T0)
        uow.outbox.enqueue("lead/2/v1/task", HS, "2", "task", {}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbox.cancel_for_lead(HS, "1", kinds=["task"]) == 1
        assert uow.outbox.cancel_for_lead(HS, "1") == 2
        assert uow.outbox.cancel_for_lead(HS, "1") == 0
        uow.commit()
    with store.unit_of_work() as uow:
        assert [r.key for r in uow.outbox.pending(10, T0)] == ["lead/2/v1/task"]
        row = uow.outbox.get("lead/1/v1/task")
        assert row is not None and row.status == OutboxStatus.CANCELLED


# -- inbox ---------------------------------------------------------------------------------


def test_inbox_dedupes_and_processes(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.inbox.add(HS, "hs:1:contact.creation:100", "1", "contact.creation", T0)
        assert not uow.inbox.add(HS, "hs:1:contact.creation:100", "1", "contact.creation", T0)
        assert uow.inbox.add("salesforce", "sf:2:created", "2", "created", received_at=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        assert not uow.inbox.add(HS, "hs:1:contact.creation:100", "1", "contact.creation")
        events = uow.inbox.unprocessed(10)
        assert [e.crm_id for e in events] == ["1", "2"]
        assert events[0].occurred_at == T0 and events[1].occurred_at is None
        assert uow.inbox.backlog() == 2
        assert [e.crm_id for e in uow.inbox.unprocessed(1, lock=True)] == ["1"]
        assert uow.inbox.mark_processed([e.id for e in events if e.id is not None][:1], now=T0) == 1
        assert uow.inbox.mark_processed([]) == 0
        uow.commit()
    with store.unit_of_work() as uow:
        assert [e.crm_id for e in uow.inbox.unprocessed(10)] == ["2"]
        assert uow.inbox.purge_processed(T0 + timedelta(days=1)) == 1
        uow.commit()
    with store.unit_of_work() as uow:
        # purged keys are forgotten; unpurged ones still dedupe
        assert uow.inbox.add(HS, "hs:1:contact.creation:100", "1", "contact.creation")
        assert not uow.inbox.add("salesforce", "sf:2:created", "2", "created")


def test_inbox_rejects_unknown_source(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError):
        uow.inbox.add("zoho", "k", "1", "created")


# -- audit ---------------------------------------------------------------------------------


def test_audit_trail_for_lead(store: Store) -> None:
    steps = (
        Step("rule_matched", "commercial"),
        Step("picked", "round robin", coordinator="maria"),
    )
    with store.unit_of_work() as uow:
        uow.audit.add(
            HS, "1", AuditKind.DECISION, T0 + timedelta(seconds=2),
            coordinator="maria", rule="commercial", detail=steps_detail(steps),
        )  # fmt: skip
        uow.audit.add(HS, "1", "arrived", T0)
        uow.audit.add(HS, "2", "arrived", T0)
        with pytest.raises(ValueError):
            uow.audit.add(HS, "1", "nonsense", T0)
        uow.commit()
    with store.unit_of_work() as uow:
        trail = uow.audit.for_lead(HS, "1")
        assert [a.kind for a in trail] == ["arrived", "decision"]
        assert trail[1].detail["steps"][1] == {
            "kind": "picked",
            "detail": "round robin",
            "coordinator": "maria",
        }
        assert trail[1].at == T0 + timedelta(seconds=2)
        assert [a.crm_id for a in uow.audit.recent(T0, kind="arrived")] == ["1", "2"]


def test_outbox_claim_leases_rows(store: Store) -> None:
    with store.unit_of_work() as uow:
        for i in range(3):
            uow.outbox.enqueue(f"lead/{i}/v1/owner", HS, str(i), "owner", {}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        claimed = uow.outbox.claim(2, T0, lease=timedelta(minutes=2))
        assert [r.key for r in claimed] == ["lead/0/v1/owner", "lead/1/v1/owner"]
        uow.commit()
    with store.unit_of_work() as uow:
        # another worker sees only the unclaimed row
        assert [r.key for r in uow.outbox.claim(10, T0)] == ["lead/2/v1/owner"]
        assert claimed[0].id is not None
        uow.outbox.mark_done(claimed[0].id, None, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        # the crashed claimer's remaining row comes due again after the lease
        later = T0 + timedelta(minutes=3)
        assert [r.key for r in uow.outbox.pending(10, later)] == [
            "lead/1/v1/owner",
            "lead/2/v1/owner",
        ]


def test_an_outbox_claim_of_one_kind_hands_out_its_rows_as_stored(store: Store) -> None:
    payload = {"owner_id": "1001", "due": "2026-03-02T16:00:00+00:00", "priority": "HIGH"}
    with store.unit_of_work() as uow:
        uow.outbox.enqueue("lead/7/v1/owner", HS, "7", "owner", {"owner_id": "1001"}, now=T0)
        uow.outbox.enqueue("lead/7/v1/task", HS, "7", "task", payload, now=T0)
        uow.outbox.enqueue("lead/8/v1/task", HS, "8", "task", {}, now=T0 + timedelta(hours=1))
        uow.commit()
    with store.unit_of_work() as uow:
        (claimed,) = uow.outbox.claim(10, T0, lease=timedelta(minutes=2), kind="task")
        uow.commit()
    assert (claimed.key, claimed.crm, claimed.crm_id, claimed.kind, claimed.assignment) == (
        "lead/7/v1/task", HS, "7", "task", 1)
    assert (claimed.status, claimed.attempts, claimed.done_at) == ("pending", 0, None)
    assert claimed.payload == payload
    if store.engine.dialect.name == "postgresql":
        return  # a claim there is a lock of the worker's session (tests/scale/test_claims.py)
    assert claimed.next_attempt_at == T0 + timedelta(minutes=2)
    with store.unit_of_work() as uow:  # the claim is stored: the row is not due before then
        assert [r.key for r in uow.outbox.pending(10, T0 + timedelta(minutes=1))] == [
            "lead/7/v1/owner"]
        assert uow.outbox.get("lead/7/v1/task").next_attempt_at == (  # type: ignore[union-attr]
            T0 + timedelta(minutes=2))


def test_reads_by_crm_id_and_by_key_take_more_than_one_statement(store: Store) -> None:
    """Reads of many ids go 500 to a statement: all are read, none twice."""
    ids = [str(5000 + i) for i in range(1203)]
    with store.unit_of_work() as uow:
        uow.leads.add_seen_many(HS, [(i, T0, {"state": "CA", "insurance": i}) for i in ids],
                                now=T0)
        for crm_id in ids[:700]:
            uow.outbox.enqueue(f"lead/{crm_id}/v1/owner", HS, crm_id, "owner", {}, now=T0)
        uow.commit()
    with store.unit_of_work() as uow:
        leads = uow.leads.get_many(HS, [*ids, "404"])
        assert sorted(leads) == sorted(ids)
        assert all(lead.attributes == {"state": "CA", "insurance": lead.crm_id}
                   and lead.created_at == T0 for lead in leads.values())
        assert uow.leads.assignments(HS, ids) == {i: (0, "seen") for i in ids}
        keys = [f"lead/{i}/v1/owner" for i in ids]
        assert uow.outbox.statuses(keys) == {key: "pending" for key in keys[:700]}


def test_unknown_crm_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(ValueError):
            uow.leads.add_seen("zoho", "1", T0, {}, now=T0)
        with pytest.raises(ValueError):
            uow.outbox.enqueue("k", "zoho", "1", "owner", {}, now=T0)


# -- changes sent at the next flush -------------------------------------------------------


def _stored_status(store: Store, crm_id: str) -> str | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.leads.statuses(HS, [crm_id]).get(crm_id)


def test_a_deferred_change_is_read_by_every_later_statement_of_its_unit(store: Store) -> None:
    """`flush=False` keeps a change in the repository; any query of the unit (this
    repository's, another repository's, or one the session runs itself) sees it."""
    _seed(store, "301", "302")
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "301", status=LeadStatus.HELD, held_until=T0, now=T0,
                         flush=False)
        assert uow.leads.get(HS, "301").status == LeadStatus.HELD  # type: ignore[union-attr]
        assert [lead.crm_id for lead in uow.leads.held_due(T0)] == ["301"]
        assert uow.leads.count_by_status() == {"held": 1, "seen": 1}
        uow.leads.update(HS, "302", status=LeadStatus.SKIPPED, now=T0, flush=False)
        stored = uow.session.execute(text("SELECT status FROM lead WHERE crm_id = '302'"))
        assert stored.scalar_one() == "skipped"
        uow.commit()
    assert _stored_status(store, "301") == "held"
    assert _stored_status(store, "302") == "skipped"


def test_deferred_changes_are_committed_or_rolled_back_with_their_unit(store: Store) -> None:
    _seed(store, "311", "312")
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "311", status=LeadStatus.SKIPPED, now=T0, flush=False)
        uow.commit()  # sent at commit, with no statement after it
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "312", status=LeadStatus.SKIPPED, now=T0, flush=False)
        uow.rollback()
        assert uow.leads.get(HS, "312").status == LeadStatus.SEEN  # type: ignore[union-attr]
        uow.commit()  # nothing left to send
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "312", status=LeadStatus.SKIPPED, now=T0, flush=False)
        # the block ends without commit: undone
    assert _stored_status(store, "311") == "skipped"
    assert _stored_status(store, "312") == "seen"


def test_an_undone_savepoint_takes_only_its_own_deferred_changes(store: Store) -> None:
    _seed(store, "321", "322", "323")
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "321", status=LeadStatus.SKIPPED, now=T0, flush=False)
        with pytest.raises(RuntimeError), uow.savepoint():
            uow.leads.update(HS, "322", status=LeadStatus.SKIPPED, now=T0, flush=False)
            raise RuntimeError("a bad lead")
        with uow.savepoint():
            uow.leads.update(HS, "323", status=LeadStatus.SKIPPED, now=T0, flush=False)
        assert uow.leads.get(HS, "322").status == LeadStatus.SEEN  # type: ignore[union-attr]
        uow.commit()
    assert [_stored_status(store, i) for i in ("321", "322", "323")] == [
        "skipped", "seen", "skipped"]


def test_changes_to_one_lead_before_a_flush_are_sent_as_one(store: Store) -> None:
    """Two changes of a lead before a flush: the stored row holds both (the later value of
    a field changed twice), and equals the record the repository handed out."""
    _seed(store, "331")
    with store.unit_of_work() as uow:
        uow.leads.update(HS, "331", status=LeadStatus.HELD, held_until=T0, now=T0, flush=False)
        changed = uow.leads.update(HS, "331", status=LeadStatus.SEEN, rule="r2",
                                   now=T0 + timedelta(minutes=1), flush=False)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.leads.get(HS, "331")
    assert stored == changed
    assert (stored.status, stored.held_until, stored.rule) == ("seen", T0, "r2")
    assert stored.updated_at == T0 + timedelta(minutes=1)
