"""A real `leadrouter run` with routed, held and unroutable leads, and headless Chromium
(Debian's `chromium` + `chromium-driver`, driven by Selenium through /usr/bin/chromedriver;
nothing is downloaded)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot import HubSpotSandbox
from sync.demo.config import demo_timezone

# `service_factory` is the service tests' fixture (`box`, the seeded HubSpot sandbox, is
# every test's: tests/conftest.py)
from tests.service.conftest import (  # noqa: F401
    ServiceProcess,
    http,
    service_factory,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots (git-ignored)
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian packages "
    "chromium + chromium-driver; .ci/run installs them)")
COORDINATORS = ("maria", "li", "james", "devon", "dana")
PASSWORD_ENV = "LEADROUTER_TEST_DASHBOARD_PASSWORD"


def scenario_config(crm: HubSpotSandbox, svc: ServiceProcess, extra_service: str = "") -> str:
    """Five coordinators: two commercial, james only on shift 21:00-23:00 local (it is
    about noon in the schedule's zone: medicaid leads are held), devon at capacity 0 (tricare
    leads are unroutable: no fallback anywhere), dana the final owner."""
    return f"""
[service]
state_url = "sqlite:///{svc.folder / 'state.db'}"
backfill = "7d"
listen = "127.0.0.1:{svc.port}"
poll_interval = "2s"
apply_interval = "1s"
escalation_interval = "1s"
log_format = "json"
{extra_service}

[crm]
kind = "hubspot"

[crm.hubspot]
base_url = "{crm.base_url}"
token_env = "HUBSPOT_TOKEN"
ca_bundle = "{crm.ca_file}"
placeholder_owners = ["1090"]

[fields]
insurance = "insurance_type"
state = "state"
zip = "zip"
source = "hs_analytics_source"
level_of_care = "level_of_care"

[schedules.nights]
timezone = "{demo_timezone(datetime.now(UTC))}"
hours = [{{ days = "daily", start = "21:00", end = "23:00" }}]

[escalation]
max_reassignments = 1
final_owner = "dana"

[[coordinators]]
id = "maria"
crm_owner_id = "1001"
teams = ["commercial"]
capacity = 25

[[coordinators]]
id = "li"
crm_owner_id = "1002"
teams = ["commercial"]
capacity = 25

[[coordinators]]
id = "james"
crm_owner_id = "1003"
teams = ["medicaid"]
schedule = "nights"

[[coordinators]]
id = "devon"
crm_owner_id = "1005"
teams = ["tricare"]
capacity = 0

[[coordinators]]
id = "dana"
crm_owner_id = "1009"
teams = ["supervisor"]

[[rules]]
name = "commercial"
when = {{ insurance = ["commercial", "ppo"] }}
pool = {{ teams = ["commercial"] }}
strategy = "round_robin"
sla = "10m"

[[rules]]
name = "medicaid"
when = {{ insurance = ["medicaid"] }}
pool = {{ teams = ["medicaid"] }}
strategy = "round_robin"
sla = "10m"
after_hours = "hold"

[[rules]]
name = "tricare"
when = {{ insurance = ["tricare"] }}
pool = {{ teams = ["tricare"] }}
strategy = "round_robin"
sla = "10m"

[[rules]]
name = "everyone"
pool = {{ teams = ["commercial"] }}
strategy = "round_robin"
sla = "10m"
"""


def contact(crm: HubSpotSandbox, serial: int, insurance: str, source: str,
            created_at: datetime | None = None) -> str:
    """A synthetic contact (fictional name, reserved example domain)."""
    return crm.create_contact({
        "firstname": "Test", "lastname": f"Browser{serial}",
        "email": f"test.browser.{serial}@example.com", "insurance_type": insurance,
        "state": "CA", "zip": "91101", "hs_analytics_source": source,
        "level_of_care": "detox", "hs_lead_status": "NEW", "lifecyclestage": "lead"},
        created_at=created_at)


@dataclass
class Scenario:
    svc: ServiceProcess
    box: HubSpotSandbox
    routed: list[str] = field(default_factory=list)
    old: str = ""  # created 3 days ago: in the 7-day window only
    held: list[str] = field(default_factory=list)
    unroutable: list[str] = field(default_factory=list)
    serial: int = 0

    @property
    def url(self) -> str:
        return self.svc.url

    def add(self, insurance: str, source: str = "PAID_SEARCH",
            created_at: datetime | None = None) -> str:
        self.serial += 1
        return contact(self.box, self.serial, insurance, source, created_at)

    def api(self, since: str = "24h", headers: dict[str, str] | None = None
            ) -> dict[str, Any]:
        with http() as client:
            response = client.get(f"{self.url}/api/report", params={"since": since},
                                  headers=headers or {})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(self, check: Any, timeout: float = 30.0,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            report = self.api("7d", headers)
            if check(report) or time.monotonic() > deadline:
                return report
            time.sleep(0.3)


def seed_scenario(crm: HubSpotSandbox, svc: ServiceProcess) -> Scenario:
    """4 fresh commercial leads (one called back), 1 from 3 days ago, 2 held, 1 unroutable."""
    s = Scenario(svc, crm)
    s.routed = [s.add("commercial", source) for source in
                ("PAID_SEARCH", "PAID_SEARCH", "ORGANIC_SEARCH", "REFERRALS")]
    s.old = s.add("commercial", "DIRECT_TRAFFIC",
                  created_at=datetime.now(UTC) - timedelta(days=3))
    s.held = [s.add("medicaid") for _ in range(2)]
    s.unroutable = [s.add("tricare", "ORGANIC_SEARCH")]
    return s


def settled(report: dict[str, Any]) -> bool:
    leads = report["leads"]
    return (leads["assigned"], leads["held"], leads["unroutable"]) == (5, 2, 1)


def start_scenario(crm: HubSpotSandbox, svc: ServiceProcess, *, extra_service: str = "",
                   env: dict[str, str] | None = None, headers: dict[str, str] | None = None
                   ) -> Scenario:
    svc.config.write_text(scenario_config(crm, svc, extra_service))
    scenario = seed_scenario(crm, svc)
    svc.start(env=env)
    report = scenario.wait_for(settled, headers=headers)
    assert settled(report), json.dumps(report["leads"])
    owner = crm.contact(scenario.routed[0])["properties"]["hubspot_owner_id"]
    crm.log_call(scenario.routed[0], owner_id=owner)  # a first attempt: met, and timed
    report = scenario.wait_for(lambda r: r["sla"]["met"] == 1, headers=headers)
    assert report["sla"]["met"] == 1, json.dumps(report["sla"])
    return scenario


@pytest.fixture
def chrome() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,2200",
                     "--no-proxy-server"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), path
    return path
