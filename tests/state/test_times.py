"""Times in the store: aware datetimes in, the same instants out as UTC, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from state import Store

INSTANTS = [
    pytest.param(datetime(2026, 3, 2, 14, 0, 0, 123456, tzinfo=UTC), id="utc-with-microseconds"),
    pytest.param(datetime(2026, 3, 2, 14, 0, tzinfo=UTC), id="utc-whole-second"),
    pytest.param(datetime(2026, 7, 4, 9, 30, tzinfo=ZoneInfo("America/Denver")),
                 id="named-zone-in-summer"),
    pytest.param(datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
                 id="fixed-offset-across-midnight"),
]


@pytest.mark.parametrize("instant", INSTANTS)
def test_a_stored_time_reads_back_as_the_same_instant_in_utc(store: Store,
                                                             instant: datetime) -> None:
    with store.unit_of_work() as uow:
        uow.leads.add_seen("hubspot", "c1", instant, {}, now=instant)
        uow.commit()
    with store.unit_of_work() as uow:
        lead = uow.leads.get("hubspot", "c1")
    assert lead is not None
    assert lead.created_at == instant
    assert lead.created_at.tzinfo is UTC
    assert lead.first_seen_at == instant


def test_sqlite_keeps_times_as_fixed_width_naive_utc_text(sqlite_store: Store) -> None:
    """String order is time order only if every value has the same shape."""
    instants = [datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
                datetime(2026, 3, 2, 9, 0, 0, 5, tzinfo=ZoneInfo("America/New_York"))]
    with sqlite_store.unit_of_work() as uow:
        for n, instant in enumerate(instants):
            uow.leads.add_seen("hubspot", f"c{n}", instant, {}, now=instant)
        uow.commit()
    with sqlite_store.unit_of_work() as uow:
        stored = [row[0] for row in uow.session.execute(
            text("SELECT created_at FROM lead ORDER BY crm_id"))]
    assert stored == ["2026-03-02 14:00:00.000000", "2026-03-02 14:00:00.000005"]


def test_sqlite_text_with_a_zone_of_its_own_reads_as_utc(sqlite_store: Store) -> None:
    """A value some other writer stored with an offset is converted, not relabelled."""
    with sqlite_store.unit_of_work() as uow:
        uow.leads.add_seen("hubspot", "c1", datetime(2026, 3, 2, 14, 0, tzinfo=UTC), {},
                           now=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
        uow.session.execute(text("UPDATE lead SET created_at = '2026-03-02 16:00:00+02:00'"))
        uow.commit()
    with sqlite_store.unit_of_work() as uow:
        lead = uow.leads.get("hubspot", "c1")
    assert lead is not None
    assert lead.created_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert lead.created_at.tzinfo is UTC


def test_a_naive_time_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="naive datetime"):
        uow.leads.add_seen("hubspot", "c1", datetime(2026, 3, 2, 14, 0), {},
                           now=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
