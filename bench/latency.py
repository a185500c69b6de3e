"""Benchmark: webhook -> owner written, through the real `leadrouter run` process.

Run: ``/work/venv/bin/python bench/latency.py [--rate 10] [--seconds 30]`` (prints figures;
not a test). The HubSpot sandbox runs in this process; the service runs as a subprocess with
polling every 10 minutes, so every owner is written because of a webhook.

1. Time to owner: contacts are created at ``--rate`` per second; the sandbox's webhook
   subscription posts signed ``contact.creation`` batches to the service. For each contact:
   creation -> ``hubspot_owner_id`` set in the sandbox (target: p99 <= 1 s at 10 leads/s).
2. Webhook answer time: signed deliveries at ``--answer-rate`` per second (default 50), each
   announcing a new contact, timed from request sent to response received (target: p99 under
   100 ms). The service is routing those leads at the same time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sandbox.hubspot import HubSpotSandbox, WebhookSender, contact_creation

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(box: HubSpotSandbox, folder: Path, port: int) -> Path:
    coordinators = "".join(
        f'[[coordinators]]\nid = "c{owner}"\ncrm_owner_id = "{owner}"\nteams = ["all"]\n\n'
        for owner in range(1001, 1009))
    path = folder / "leadrouter.toml"
    path.write_text(f"""
[service]
state_url = "sqlite:///{folder / 'state.db'}"
poll_interval = "10m"
apply_interval = "1s"
escalation_interval = "30s"
listen = "127.0.0.1:{port}"
log_format = "json"

[crm]
kind = "hubspot"

[crm.hubspot]
base_url = "{box.base_url}"
token_env = "HUBSPOT_TOKEN"
webhook_secret_env = "HUBSPOT_CLIENT_SECRET"
ca_bundle = "{box.ca_file}"
placeholder_owners = ["1090"]

[fields]
insurance = "insurance_type"
state = "state"

[routing]
fallback_owner = "c1001"

{coordinators}
[[rules]]
name = "everyone"
pool = {{ teams = ["all"] }}
strategy = "round_robin"
sla = "1h"
""")
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"service exited with {proc.returncode}")
            try:
                if client.get(url + "/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise SystemExit("service did not become ready")


class OwnerWatch(threading.Thread):
    """Records when each watched contact first shows an owner in the sandbox."""

    def __init__(self, box: HubSpotSandbox) -> None:
        super().__init__(daemon=True)
        self.box = box
        self.pending: dict[str, float] = {}  # contact -> created (monotonic)
        self.latency: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def watch(self, cid: str, created: float) -> None:
        with self.lock:
            self.pending[cid] = created

    def run(self) -> None:
        while not self.stop.wait(0.005):
            with self.lock:
                items = list(self.pending.items())
            now = time.monotonic()
            for cid, created in items:
                if self.box.contact(cid)["properties"].get("hubspot_owner_id"):
                    with self.lock:
                        self.latency[cid] = now - created
                        del self.pending[cid]


def contact_props(serial: int) -> dict[str, str]:
    return {"firstname": "Bench", "lastname": f"Lead{serial}",
            "email": f"bench.lead.{serial}@example.com", "insurance_type": "commercial",
            "state": "CA", "hs_lead_status": "NEW", "lifecyclestage": "lead"}


def time_to_owner(box: HubSpotSandbox, rate: float, seconds: float) -> list[float]:
    watch = OwnerWatch(box)
    watch.start()
    total = int(rate * seconds)
    start = time.monotonic()
    for serial in range(total):
        target = start + serial / rate
        time.sleep(max(0.0, target - time.monotonic()))
        created = time.monotonic()
        watch.watch(box.create_contact(contact_props(serial)), created)
    deadline = time.monotonic() + 10
    while watch.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.stop.set()
    if watch.pending:
        print(f"  {len(watch.pending)} contacts got no owner within 10 s")
    return list(watch.latency.values())


def answer_times(box: HubSpotSandbox, url: str, secret: str, rate: float,
                 seconds: float) -> list[float]:
    now = datetime.now(UTC)
    total = int(rate * seconds)
    ids = box.seed_contacts(total, created_between=(now - timedelta(seconds=5), now))
    sender = WebhookSender(url, secret)
    times: list[float] = []
    start = time.monotonic()
    # one keep-alive connection; http.client sends headers and body in one segment
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(url).port, timeout=10)
    try:
        for index, cid in enumerate(ids):
            target = start + index / rate
            time.sleep(max(0.0, target - time.monotonic()))
            body, headers = sender.signed_request([contact_creation(cid)])
            sent = time.monotonic()
            conn.request("POST", urlsplit(url).path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            times.append(time.monotonic() - sent)
            if response.status != 200:
                print(f"  delivery answered {response.status}")
    finally:
        conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="leads per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--answer-rate", type=float, default=50.0,
                        help="webhook deliveries per second for the answer-time run")
    parser.add_argument("--answer-seconds", type=float, default=10.0)
    args = parser.parse_args()

    secret = secrets.token_hex(12)
    times: list[float] = []
    with HubSpotSandbox() as box, tempfile.TemporaryDirectory() as tmp:
        box.seed_demo()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HUBSPOT_TOKEN": box.token, "HUBSPOT_CLIENT_SECRET": secret}
        log = open(Path(tmp) / "service.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "sync", "--config",
                                 str(config(box, Path(tmp), port)), "run"], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, proc)
            emitter = box.subscribe_webhooks(url + "/webhooks/hubspot", secret, properties=(),
                                             interval=0.02)
            print(f"time to owner: {args.rate:g} leads/s for {args.seconds:g} s, polling off "
                  "(10 min), webhooks only")
            lat = time_to_owner(box, args.rate, args.seconds)
            print(f"  leads {len(lat)}  p50 {statistics.median(lat) * 1000:.0f} ms  "
                  f"p90 {pct(lat, 0.9) * 1000:.0f} ms  p99 {pct(lat, 0.99) * 1000:.0f} ms  "
                  f"max {max(lat) * 1000:.0f} ms  (target p99 <= 1000 ms)")
            emitter.close()
            box.store.observers.clear()
            print(f"webhook answer time: {args.answer_rate:g} deliveries/s for "
                  f"{args.answer_seconds:g} s, one new lead each (routed meanwhile)")
            times = answer_times(box, url + "/webhooks/hubspot", secret, args.answer_rate,
                                 args.answer_seconds)
            print(f"  requests {len(times)}  p50 {statistics.median(times) * 1000:.1f} ms  "
                  f"p99 {pct(times, 0.99) * 1000:.1f} ms  max {max(times) * 1000:.1f} ms  "
                  "(target p99 < 100 ms)")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            log.close()
        handled = [float(json.loads(line)["duration_ms"])
                   for line in (Path(tmp) / "service.log").read_text().splitlines()
                   if '"webhook.accepted"' in line][-len(times):]
        if handled:
            print(f"  in the service (verify + store + answer): p50 "
                  f"{statistics.median(handled):.1f} ms  p99 {pct(handled, 0.99):.1f} ms")


if __name__ == "__main__":
    main()
