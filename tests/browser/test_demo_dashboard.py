"""`leadrouter demo` prints its dashboard's URL; the page, left open, fills with the demo's
live leads within a minute through its automatic refresh (no reload)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import console_errors, needs_chromium, screenshot
from tests.service.conftest import REPO, free_port, http

pytestmark = needs_chromium


def arrived(driver: Any) -> int:
    text = driver.execute_script(
        "const e = document.getElementById('arrived'); return e && e.textContent;")
    return int(text) if text and text.isdigit() else -1


def test_the_demo_shows_its_dashboard_and_it_fills_within_a_minute(chrome: Any) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "demo", "--duration", "150", "--port", str(port),
         "--seed", "5", "--rate", "40"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    started = time.monotonic()
    try:
        url = None
        seen: list[str] = []
        while url is None and time.monotonic() - started < 30:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            found = re.match(r"\s*dashboard\s+(http://\S+/)\s", line)
            url = found.group(1) if found else None
        assert url == f"http://127.0.0.1:{port}/", seen

        chrome.get(url)  # at once: perhaps still empty (charts with no categories say so)
        WebDriverWait(chrome, 15).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-time-to-owner canvas"))
        chrome.execute_script("window.__sameDocument = true;")
        first = arrived(chrome)
        # the page refreshes itself every 30 s: within a minute of the start it shows more
        WebDriverWait(chrome, max(5.0, 60 - (time.monotonic() - started)), 1).until(
            lambda d: arrived(d) > max(first, 0))
        assert chrome.execute_script("return window.__sameDocument === true;")
        with http() as client:
            report = client.get(f"{url}api/report", params={"since": "24h"}).json()
        text = chrome.find_element(By.ID, "coordinators").text
        assert all(c["id"] in text for c in report["coordinators"])
        assert len(chrome.find_elements(By.CSS_SELECTOR, "[data-chart] canvas")) == 7
        assert console_errors(chrome) == []
        screenshot(chrome, "demo-dashboard.png")
        process.send_signal(signal.SIGINT)
        process.wait(15)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
