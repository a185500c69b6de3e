"""The dashboard of a real `leadrouter run`, in headless Chromium: charts drawn, every
coordinator and every lead that needs a person shown, the window switch, the automatic
refresh, the phone layout, and the access rule (loopback only; a forwarded client from a
trusted proxy is not loopback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any, Literal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sandbox.hubspot import HubSpotSandbox
from tests.browser.conftest import (
    COORDINATORS,
    Scenario,
    console_errors,
    needs_chromium,
    screenshot,
    start_scenario,
)
from tests.service.conftest import REPO, ServiceProcess, http

pytestmark = needs_chromium
CHARTS = ("time-to-owner", "time-to-attempt", "sla-by-day", "open-vs-capacity", "by-rule",
          "by-source", "after-hours")


@pytest.fixture
def scenario(box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> Scenario:
    return start_scenario(box, service_factory())


def tile(driver: Any, ident: str) -> str:
    """One figure's text, read in one step (a refresh may swap the element meanwhile)."""
    return str(driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e && e.textContent;", ident))


def wait_for_charts(driver: Any) -> dict[str, tuple[int, int]]:
    """Chart id -> the size of its canvas, once every chart has one."""
    def sizes(d: Any) -> dict[str, tuple[int, int]] | Literal[False]:
        found = {}
        for chart in CHARTS:
            canvases = d.find_elements(By.CSS_SELECTOR, f"#chart-{chart} canvas")
            if not canvases:
                return False
            found[chart] = (canvases[0].size["width"], canvases[0].size["height"])
        return found
    result: dict[str, tuple[int, int]] = WebDriverWait(driver, 15).until(sizes)
    return result


def test_the_dashboard_shows_the_routing_of_a_running_service(scenario: Scenario,
                                                              chrome: Any) -> None:
    chrome.get(scenario.url + "/")
    sizes = wait_for_charts(chrome)
    assert all(w > 100 and h > 100 for w, h in sizes.values()), sizes
    # the bars are drawn: the canvas of the time-to-owner chart is not blank
    painted = chrome.execute_script(
        "const c = document.querySelector('#chart-time-to-owner canvas');"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n;")
    assert painted > 1000
    assert console_errors(chrome) == []
    screenshot(chrome, "dashboard.png")

    rows = chrome.find_elements(By.CSS_SELECTOR, "#coordinators tbody tr")
    assert [row.get_attribute("data-coordinator") for row in rows] == list(COORDINATORS)
    text = chrome.find_element(By.ID, "coordinators").text
    assert all(ident in text for ident in COORDINATORS)
    # devon (capacity 0) was passed over at capacity; james (off shift) for the held leads
    devon = chrome.find_element(By.CSS_SELECTOR, '#coordinators tr[data-coordinator="devon"]')
    assert "0 / 0" in devon.text

    needs = {row.get_attribute("data-crm-id"): row for row in
             chrome.find_elements(By.CSS_SELECTOR, "#needs-person tr.needs")}
    assert set(needs) == set(scenario.held + scenario.unroutable)
    for crm_id in scenario.held + scenario.unroutable:
        link = needs[crm_id].find_element(By.TAG_NAME, "a")
        assert link.text == crm_id
        assert link.get_attribute("href").endswith(f"/{crm_id}")
        assert link.get_attribute("rel") == "noopener noreferrer"
    assert "held" in needs[scenario.held[0]].text
    assert "unroutable" in needs[scenario.unroutable[0]].text
    assert tile(chrome, "needing-count") == "3"

    # the window switch: the lead from three days ago counts in 7 d, not in 24 h
    assert tile(chrome, "arrived") == "7"
    chrome.find_element(By.CSS_SELECTOR, 'a[data-window="7d"]').click()
    WebDriverWait(chrome, 10).until(lambda d: "window=7d" in d.current_url)
    wait_for_charts(chrome)
    assert tile(chrome, "arrived") == "8"
    current = chrome.find_element(By.CSS_SELECTOR, ".windows a[aria-current=page]")
    assert current.get_attribute("data-window") == "7d"
    assert console_errors(chrome) == []

    # automatic refresh: a new lead shows up without a reload of the page
    chrome.execute_script("window.__sameDocument = true;")
    scenario.add("commercial")
    scenario.wait_for(lambda r: r["leads"]["assigned"] == 6)
    chrome.execute_script("window.leadrouterDashboard.refresh();")
    WebDriverWait(chrome, 10).until(lambda d: tile(d, "arrived") == "9")
    assert chrome.execute_script("return window.__sameDocument === true;")
    wait_for_charts(chrome)
    assert console_errors(chrome) == []

    # a phone: one column, nothing wider than the screen
    chrome.set_window_size(390, 1800)
    chrome.get(scenario.url + "/?window=24h")
    wait_for_charts(chrome)
    chrome.execute_script("return new Promise(r => setTimeout(r, 300));")  # resize observer
    widths = chrome.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];")
    assert widths[0] <= widths[1] + 1, widths
    screenshot(chrome, "dashboard-phone.png")
    assert console_errors(chrome) == []


def test_api_report_is_the_report_command_json(scenario: Scenario) -> None:
    api = scenario.api("7d")
    shown = subprocess.run([sys.executable, "-m", "sync", "--config", str(scenario.svc.config),
                            "report", "--json", "--since", "7d"], cwd=REPO, capture_output=True,
                           text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    cli = json.loads(shown.stdout)
    assert set(cli) <= set(api)
    for key in ("leads", "sla", "escalations", "after_hours", "rules", "sources",
                "time_to_first_attempt_seconds"):
        assert api[key] == cli[key], key
    assert [c["id"] for c in api["coordinators"]] == list(COORDINATORS)
    assert {row["crm_id"]: row["status"] for row in api["needs_person"]} == {
        **dict.fromkeys(scenario.held, "held"), **dict.fromkeys(scenario.unroutable,
                                                               "unroutable")}
    assert all(row["link"] and row["crm_id"] in row["link"] for row in api["needs_person"])
    with http() as client:
        for query, needle in (({"since": "yesterday"}, "yesterday"),
                              ({"since": "2026-11-30T10:00:00"}, "offset"),
                              ({"since": "1h", "until": "2h"}, "before")):
            response = client.get(f"{scenario.url}/api/report", params=query)
            assert response.status_code == 400, query
            assert needle in response.json()["error"], response.text
        assert client.get(f"{scenario.url}/?window=2d").status_code == 400
        page = client.get(f"{scenario.url}/")
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_only_loopback_clients_without_a_password(scenario: Scenario) -> None:
    """The default trusted proxies are the loopback addresses: a request from 127.0.0.1
    carrying X-Forwarded-For is a proxied client, judged by the forwarded address."""
    with http() as client:
        page = client.get(scenario.url + "/")
        assert page.status_code == 200
        asset = re.search(r'/static/[0-9a-f]{12}/vendor/uPlot\.iife\.min\.js', page.text)
        assert asset is not None
        paths = ["/", "/?window=7d", "/api/report", "/api/nothing", asset.group(0)]
        for forwarded in ("203.0.113.7", "10.1.2.3, 198.51.100.4", "2001:db8::5", "junk"):
            for path in paths:
                response = client.get(scenario.url + path,
                                       headers={"X-Forwarded-For": forwarded})
                assert response.status_code == 403, (path, forwarded)
                assert "loopback" in response.text
            for path in ("/healthz", "/metrics"):
                response = client.get(scenario.url + path,
                                      headers={"X-Forwarded-For": forwarded})
                assert response.status_code == 200, (path, forwarded)
        # a proxy on this host forwarding a local client
        assert client.get(scenario.url + "/api/report",
                          headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
        script = client.get(scenario.url + asset.group(0))
        assert script.status_code == 200
        assert "immutable" in script.headers["cache-control"]
        assert script.headers["content-type"].startswith("text/javascript")
        again = client.get(scenario.url + asset.group(0),
                           headers={"If-None-Match": script.headers["etag"]})
        assert again.status_code == 304
        stale = re.sub(r"/static/[0-9a-f]{12}/", "/static/000000000000/", asset.group(0))
        assert client.get(scenario.url + stale).status_code == 404
