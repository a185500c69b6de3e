"""Polling with a durable cursor: oldest first, overlap deduped, nothing missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import CrmLead
from tests.contract.adapters import Crm, window

DAY_AGO = timedelta(hours=24)


def _drain(crm: Crm, cursor: str | None, limit: int) -> tuple[list[CrmLead], str | None, int]:
    """Poll until `more` is False, as the pipeline does; (leads, last cursor, polls)."""
    connector = crm.connector()
    since = datetime.now(UTC) - DAY_AGO
    seen: list[CrmLead] = []
    polls = 0
    while True:
        page = connector.poll(cursor, since, limit)
        polls += 1
        created = [lead.created_at for lead in page.leads]
        assert created == sorted(created)  # oldest first
        assert len({lead.crm_id for lead in page.leads}) == len(page.leads)  # deduped
        seen.extend(page.leads)
        assert cursor is None or page.cursor >= cursor  # never backwards
        cursor = page.cursor
        if not page.more:
            break
        assert polls < 50
    connector.close()
    return seen, cursor, polls


def test_first_poll_reads_everything_since_the_backfill_oldest_first(crm: Crm) -> None:
    ids = crm.seed(60, rng_seed=3)
    old = crm.seed(5, rng_seed=4, between=window(60 * 30, 60 * 26))  # before the backfill
    seen, cursor, _ = _drain(crm, None, 500)
    found = {lead.crm_id for lead in seen}
    assert found == set(ids) and not found & set(old)
    assert cursor is not None
    lead = seen[0]
    assert lead.created_at.tzinfo is not None
    assert set(lead.attributes) <= set(crm.fields)
    assert any(lead.attributes.get("insurance") for lead in seen)


def test_a_small_limit_pages_through_with_the_cursor(crm: Crm) -> None:
    ids = crm.seed(450, rng_seed=5)
    seen, _, polls = _drain(crm, None, 100)
    assert {lead.crm_id for lead in seen} == set(ids)
    assert polls >= 1


def test_the_next_poll_rereads_only_the_overlap_and_finds_newer_records(crm: Crm) -> None:
    early = crm.seed(30, rng_seed=6, between=window(180, 60))
    recent = crm.seed(5, rng_seed=7, between=window(1, 0.2))  # inside the 2-minute overlap
    seen, cursor, _ = _drain(crm, None, 500)
    assert {lead.crm_id for lead in seen} == set(early) | set(recent)

    again, cursor2, _ = _drain(crm, cursor, 500)
    assert {lead.crm_id for lead in again} <= set(recent)  # the overlap, nothing older
    # a drained poll moves the cursor up to when it began, past what it handled
    assert cursor2 is not None and cursor is not None and cursor2 >= cursor

    later = crm.create_now()
    newest, cursor3, _ = _drain(crm, cursor2, 500)
    ids = {lead.crm_id for lead in newest}
    assert later in ids and ids <= set(recent) | {later}
    assert cursor3 is not None and cursor2 is not None and cursor3 > cursor2


def test_eligibility_unowned_and_placeholder_yes_a_person_no(crm: Crm) -> None:
    fresh = crm.seed(6, rng_seed=8)
    owned = crm.seed(6, owned=1.0, rng_seed=9)
    held = fresh[:2]
    for record in held:
        crm.set_owner_by_hand(record, crm.placeholder)
    seen, _, _ = _drain(crm, None, 500)
    by_id = {lead.crm_id: lead for lead in seen}
    for record in fresh:
        assert by_id[record].eligible, record
        expected = crm.placeholder if record in held else crm.unowned
        assert by_id[record].owner_id == expected
    for record in owned:
        assert not by_id[record].eligible
        assert by_id[record].owner_id is not None

    fetched = {lead.crm_id: lead for lead in crm.connector().fetch([*fresh, *owned])}
    assert set(fetched) == set(fresh) | set(owned)
    assert all(fetched[r].eligible for r in fresh)
    assert not any(fetched[r].eligible for r in owned)
