"""`[service] dashboard_password_env`: HTTP Basic auth on the dashboard, its API and its
assets (any user name), nothing else affected; a missing variable stops the start."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sandbox.hubspot import HubSpotSandbox
from tests.browser.conftest import (
    COORDINATORS,
    PASSWORD_ENV,
    console_errors,
    needs_chromium,
    scenario_config,
    screenshot,
    start_scenario,
)
from tests.service.conftest import ServiceProcess, http

PASSWORD = "correct horse battery staple"
SETTING = f'dashboard_password_env = "{PASSWORD_ENV}"\ntrusted_proxies = []'


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@needs_chromium
def test_a_password_guards_the_dashboard_and_nothing_else(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess],
        chrome: Any) -> None:
    svc = service_factory()
    scenario = start_scenario(box, svc, extra_service=SETTING, env={PASSWORD_ENV: PASSWORD},
                              headers=basic("director", PASSWORD))
    with http() as client:
        page = client.get(svc.url + "/", headers=basic("anyone", PASSWORD))
        assert page.status_code == 200
        assets = re.findall(r'/static/[0-9a-f]{12}/[\w./-]+\.(?:js|css)', page.text)
        assert len(assets) == 4, assets
        for path in ["/", "/?window=30d", "/api/report?since=30d", "/api/other", *assets]:
            refused = [client.get(svc.url + path),
                       client.get(svc.url + path, headers=basic("director", "wrong")),
                       client.get(svc.url + path, headers=basic("director", PASSWORD[:-1])),
                       client.get(svc.url + path, headers={"Authorization": "Basic !!"}),
                       client.get(svc.url + path, headers={"Authorization": "Bearer x"})]
            for response in refused:
                assert response.status_code == 401, path
                assert response.headers["www-authenticate"] == 'Basic realm="leadrouter"'
            assert client.get(svc.url + path, headers=basic("", PASSWORD)).status_code \
                == (404 if path == "/api/other" else 200), path
        # open to every address once the password is right (here: trusted_proxies = [],
        # so the header below is not believed either way)
        assert client.get(svc.url + "/api/report", headers={
            **basic("x", PASSWORD), "X-Forwarded-For": "203.0.113.7"}).status_code == 200
        for path in ("/healthz", "/metrics"):
            assert client.get(svc.url + path).status_code == 200
        # the webhook answers for itself (an unsigned delivery), not with the dashboard's 401
        hook = client.post(svc.url + "/webhooks/hubspot", content=b"[]")
        assert "www-authenticate" not in hook.headers
        assert "X-HubSpot-Signature-v3" in hook.text

    # a browser that was given the password loads the page, its scripts and styles
    chrome.get(f"http://director:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{svc.port}/")
    WebDriverWait(chrome, 15).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-chart] canvas")) == 7)
    text = chrome.find_element(By.ID, "coordinators").text
    assert all(ident in text for ident in COORDINATORS)
    ids = [e.get_attribute("data-crm-id") for e in
           chrome.find_elements(By.CSS_SELECTOR, "#needs-person tr.needs")]
    assert sorted(ids) == sorted(scenario.held + scenario.unroutable)
    # the automatic refresh fetches the page with the credentials the browser was given
    clock = "return document.querySelector('time[data-clock]').getAttribute('datetime');"
    before = chrome.execute_script(clock)
    chrome.execute_script("window.__sameDocument = true; window.leadrouterDashboard.refresh();")
    WebDriverWait(chrome, 10).until(lambda d: d.execute_script(clock) != before)
    assert chrome.execute_script("return window.__sameDocument === true;")
    assert not chrome.find_element(By.ID, "stale").is_displayed()
    assert console_errors(chrome) == []
    screenshot(chrome, "dashboard-password.png")


def test_a_password_variable_that_is_not_set_stops_the_start(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory()
    svc.config.write_text(scenario_config(box, svc, SETTING))
    for env in ({}, {PASSWORD_ENV: ""}):
        svc.start(wait=False, env=env)
        assert svc.proc is not None
        assert svc.proc.wait(30) != 0
        log = svc.log_path.read_text()
        assert PASSWORD_ENV in log and "dashboard_password_env" in log, log
        assert "Traceback" not in log
