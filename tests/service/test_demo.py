"""`leadrouter demo` as a user runs it: lines appear, escalations follow, Ctrl-C ends it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sandbox.hubspot.seed import _FIRST, _LAST
from tests.service.conftest import REPO, free_port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def test_demo_routes_within_seconds_escalates_within_a_minute_and_stops_on_sigint() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "demo", "--duration", "120", "--port", str(port),
         "--seed", "1", "--rate", "40"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    assert process.stdout is not None

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put((time.monotonic(), line.rstrip("\n")))

    threading.Thread(target=pump, daemon=True).start()
    started = time.monotonic()
    seen: list[str] = []
    first_routed = first_escalation = first_contact = None
    try:
        while time.monotonic() - started < 70 and first_escalation is None:
            try:
                at, line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            if first_routed is None and re.search(r"lead \d+ +routed +-> \w+", line):
                first_routed = at - started
            if first_contact is None and "contacted  by" in line:
                first_contact = at - started
            if re.search(r"lead \d+ +(reassigned|ESCALATED) ", line):
                first_escalation = at - started
        assert any(f"http://127.0.0.1:{port}/metrics" in line for line in seen), seen[:12]
        assert any(f"http://127.0.0.1:{port}/healthz" in line for line in seen)
        assert first_routed is not None and first_routed < 15, (first_routed, seen)
        assert first_contact is not None, seen
        assert first_escalation is not None and first_escalation < 60, (first_escalation,
                                                                        seen)
        assert _children(process.pid) == []
        process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        process.wait(10)
        assert time.monotonic() - stopped < 10
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    time.sleep(0.2)
    rest = [line for _, line in list(lines.queue)]
    output = "\n".join(seen + rest)
    assert "stopping..." in output
    # ids and coordinator names only: no contact names, emails or phone numbers
    assert "@" not in output.replace("127.0.0.1", "")
    assert not re.search(r"\b555\b", output)
    words = set(re.findall(r"[A-Z][a-z]+", output))
    assert not (words & (set(_LAST) | set(_FIRST))), words & (set(_LAST) | set(_FIRST))
    # nothing left listening
    import socket

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
