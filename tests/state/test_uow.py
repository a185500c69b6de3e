"""Unit of work: nothing persists unless committed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from state import Store, StoreError

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _cursor(store: Store) -> str | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.cursors.get("c")


def test_commit_persists(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.cursors.set("c", "1")
        uow.leads.add_seen("hubspot", "1", T0, {}, now=T0)
        uow.commit()
    assert _cursor(store) == "1"
    with store.unit_of_work(read_only=True) as uow:
        assert uow.leads.get("hubspot", "1") is not None


def test_rolls_back_without_commit(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.cursors.set("c", "1")
        uow.leads.add_seen("hubspot", "1", T0, {}, now=T0)
        uow.outbox.enqueue("k", "hubspot", "1", "owner", {}, now=T0)
        uow.inbox.add("hubspot", "d", "1", "contact.creation")
    assert _cursor(store) is None
    with store.unit_of_work() as uow:
        assert uow.leads.get("hubspot", "1") is None
        assert uow.outbox.get("k") is None
        assert uow.inbox.unprocessed(10) == []


def test_rolls_back_on_exception(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as uow:
        uow.cursors.set("c", "1")
        uow.leads.add_seen("hubspot", "1", T0, {}, now=T0)
        raise RuntimeError("boom")
    assert _cursor(store) is None


def test_work_after_commit_is_rolled_back(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.cursors.set("c", "1")
        uow.commit()
        uow.cursors.set("c", "2")
        assert uow.cursors.get("c") == "2"
    assert _cursor(store) == "1"


def test_explicit_rollback_then_commit(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.cursors.set("c", "1")
        uow.rollback()
        uow.cursors.set("other", "x")
        uow.commit()
    assert _cursor(store) is None
    with store.unit_of_work(read_only=True) as uow:
        assert uow.cursors.get("other") == "x"


def test_read_only_unit_refuses_commit(store: Store) -> None:
    with store.unit_of_work(read_only=True) as uow:
        uow.cursors.set("c", "1")
        with pytest.raises(StoreError):
            uow.commit()
    assert _cursor(store) is None


def test_rows_stay_readable_after_commit_and_close(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.leads.add_seen("hubspot", "1", T0, {"state": "CA"}, now=T0)
        lead = uow.leads.get("hubspot", "1")
        uow.commit()
    assert lead is not None and lead.attributes == {"state": "CA"} and lead.crm_id == "1"
