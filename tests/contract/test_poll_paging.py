"""A backlog polled at the search limit: one search per page through the `after` token,
never above the limit, and a quiet portal costs one search per poll afterwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from connectors.hubspot.connector import create_connector as create_hubspot
from connectors.settings import HubSpotConfig
from sandbox.hubspot import HubSpotSandbox
from tests.contract.adapters import Crm, HubSpotCrm

SEARCH = "POST /crm/v3/objects/contacts/search"


def _searches(crm: Crm) -> int:
    return int(crm.box.counters()["calls"].get(SEARCH, 0))


def test_a_backlog_is_paged_once_at_the_search_limit(rate_limited_crm: Crm) -> None:
    crm = rate_limited_crm
    ids = crm.seed(2_100, rng_seed=71)  # 11 pages of 200
    crm.box.server.faults.latency = 0.03
    connector = crm.connector()
    since = datetime.now(UTC) - timedelta(hours=24)
    began = datetime.now(UTC)
    started, before = time.monotonic(), _searches(crm)
    pages = list(connector.poll_pages(None, since))  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    assert _searches(crm) - before == len(pages) == 11  # no window read twice
    assert [p.more for p in pages] == [True] * 10 + [False]
    seen = [lead.crm_id for page in pages for lead in page.leads]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    cursors = [int(p.cursor) for p in pages]
    assert cursors == sorted(cursors)
    assert cursors[-1] >= int(began.timestamp() * 1000) - 1  # moved up to the poll's start
    assert crm.box.counters()["rate_limited_total"] == 0  # never above 5 searches a second
    assert elapsed >= 2.0  # 11 searches at 5 a second: the limit was the pace

    before = _searches(crm)
    again = list(connector.poll_pages(pages[-1].cursor, since))  # type: ignore[attr-defined]
    assert _searches(crm) - before == 1 and len(again) == 1  # a quiet portal: one search
    assert {lead.crm_id for lead in again[0].leads} <= set(ids)
    connector.close()


def test_past_the_search_cap_the_poll_goes_on_from_the_newest_record_seen() -> None:
    """HubSpot answers 400 past 10,000 results: the poll starts a new query at the newest
    creation time it has, and the records of that millisecond are not returned twice."""
    with HubSpotSandbox(search_per_second=50) as box:
        box.seed_demo()
        now = datetime.now(UTC)
        ids = box.seed_contacts(10_150, created_between=(now - timedelta(hours=3),
                                                         now - timedelta(minutes=3)),
                                rng_seed=72)
        crm = HubSpotCrm(box)
        settings = HubSpotConfig(base_url=box.base_url, ca_bundle=box.ca_file,
                                 token_env="CONTRACT_TOKEN", searches_per_second=50)
        connector = create_hubspot(settings, crm.fields, environ={"CONTRACT_TOKEN": box.token})
        before = int(box.counters()["calls"].get(SEARCH, 0))
        pages = list(connector.poll_pages(None, now - timedelta(hours=24)))
        seen = [lead.crm_id for page in pages for lead in page.leads]
        assert len(seen) == len(set(seen)) and set(seen) == set(ids)
        assert int(box.counters()["calls"].get(SEARCH, 0)) - before == len(pages) <= 52
        assert box.counters()["rate_limited_total"] == 0
        connector.close()

