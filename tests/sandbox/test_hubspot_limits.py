"""Rate limits through hubspot-api-client 12: headers, 429 bodies, Retry-After, counters."""

from __future__ import annotations

import json
import time

import hubspot
import pytest
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException

from sandbox.hubspot import HubSpotSandbox

from .conftest import hubspot_client_for

pytestmark = pytest.mark.timeout(30)


def test_ten_second_window_headers_and_429() -> None:
    with HubSpotSandbox(ten_second_limit=5) as box:
        box.seed_demo()
        api = hubspot_client_for(box).crm.owners.owners_api
        remaining = []
        for _ in range(5):
            _, status, headers = api.get_page_with_http_info()
            assert status == 200
            assert headers["X-HubSpot-RateLimit-Max"] == "5"
            assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            assert int(headers["X-HubSpot-RateLimit-Daily"]) > 0
            remaining.append(int(headers["X-HubSpot-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        t0 = time.monotonic()
        with pytest.raises(OwnersApiException) as err:
            api.get_page()
        # Retry(total=0, raise_on_status=False) in the client: the 429 comes straight back.
        assert time.monotonic() - t0 < 1.0
        e = err.value
        assert e.status == 429
        assert 1 <= int(e.headers["Retry-After"]) <= 10
        assert e.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        body = json.loads(e.body)
        assert body["status"] == "error"
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert body["correlationId"]
        counters = box.counters()
        assert counters["rate_limited"] == {"TEN_SECONDLY_ROLLING": 1}
        assert counters["calls"]["GET /crm/v3/owners"] == 5
        assert [e.status for e in box.request_log] == [200] * 5 + [429]
        box.reset_limits()
        assert api.get_page().results


def test_search_limit_is_separate_from_the_window() -> None:
    with HubSpotSandbox(search_per_second=2, ten_second_limit=100) as box:
        box.create_contact({"firstname": "Sam"})
        client = hubspot_client_for(box)
        search = client.crm.contacts.search_api
        for _ in range(2):
            assert search.do_search(public_object_search_request={"limit": 1}).total == 1
        with pytest.raises(ApiException) as err:
            search.do_search(public_object_search_request={"limit": 1})
        assert err.value.status == 429
        assert err.value.headers["Retry-After"] == "1"
        assert json.loads(err.value.body)["policyName"] == "SECONDLY"
        # Other endpoints are unaffected by the search limit.
        assert client.crm.contacts.basic_api.get_page().results
        time.sleep(1.05)
        assert search.do_search(public_object_search_request={"limit": 1}).total == 1


def test_daily_limit() -> None:
    with HubSpotSandbox(daily_limit=3) as box:
        box.seed_demo()
        api = hubspot_client_for(box).crm.owners.owners_api
        _, _, headers = api.get_page_with_http_info()
        assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"
        api.get_page()
        api.get_page()
        with pytest.raises(OwnersApiException) as err:
            api.get_page()
        assert err.value.status == 429
        assert json.loads(err.value.body)["policyName"] == "DAILY"
        assert int(err.value.headers["Retry-After"]) > 0
        assert box.counters()["daily_used"] == 3


def test_unauthenticated_calls_do_not_consume_quota(hubspot_box: HubSpotSandbox) -> None:
    bad = hubspot_client_for(hubspot_box, token="nope")
    with pytest.raises(OwnersApiException):
        bad.crm.owners.owners_api.get_page()
    good: hubspot.Client = hubspot_client_for(hubspot_box)
    _, _, headers = good.crm.owners.owners_api.get_page_with_http_info()
    assert headers["X-HubSpot-RateLimit-Remaining"] == str(190 - 1)
