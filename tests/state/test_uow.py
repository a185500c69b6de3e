"""Unit of work: nothing persists unless committed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from state import Store, StoreError, open_store
from tests.conftest import PgServer

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


# -- the lead rows a unit of work re-reads ------------------------------------------------------
_T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_lead_added_in_an_undone_savepoint_is_not_read_back(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with store.unit_of_work() as uow:
            with pytest.raises(RuntimeError), uow.savepoint():
                uow.leads.add_seen("hubspot", "501", _T, {}, now=_T)
                assert uow.leads.get("hubspot", "501") is not None
                raise RuntimeError("this lead fails")
            assert uow.leads.get("hubspot", "501") is None
            uow.leads.add_seen("hubspot", "502", _T, {}, now=_T)
            uow.leads.update("hubspot", "502", owner="maria", now=_T)
            uow.commit()
        with store.unit_of_work(read_only=True) as uow:
            found = uow.leads.get("hubspot", "502")
            assert found is not None and found.owner == "maria"
    finally:
        store.close()


def test_after_a_commit_a_unit_reads_what_another_one_changed(pg_server: PgServer) -> None:
    store = open_store(pg_server.new_database())  # two writing units at once: PostgreSQL
    try:
        with store.unit_of_work() as first:
            first.leads.add_seen("hubspot", "601", _T, {}, now=_T)
            first.commit()
            assert (first.leads.get("hubspot", "601") or _missing()).owner is None
            with store.unit_of_work() as other:
                other.leads.update("hubspot", "601", owner="li", now=_T)
                other.commit()
            first.commit()  # a new transaction of the same unit
            assert (first.leads.get("hubspot", "601") or _missing()).owner == "li"
    finally:
        store.close()


def _missing() -> Any:
    raise AssertionError("lead not found")
