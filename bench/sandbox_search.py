"""Benchmark of the HubSpot sandbox: search latency at 10,000 contacts, memory at 100,000.

Run: ``/work/venv/bin/python bench/sandbox_search.py`` (prints the figures; not a test).

Latency is measured end to end through hubspot-api-client 12 over HTTPS on loopback (a warm,
pooled connection), for the page a poller asks for: unowned contacts created since a cursor,
sorted by createdate, 200 per page, plus the same page fetched with raw urllib3 (no model
deserialisation) to separate the client's own cost. Memory is the growth of the process's
resident set while seeding 100,000 contacts (before any search ran in that process).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path

import hubspot
import urllib3
from hubspot.crm.contacts import PublicObjectSearchRequest
from urllib3.util.retry import Retry

from sandbox.hubspot import HubSpotSandbox

PAGE = 200
RUNS = 60


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _serve(conn: Connection, start_ms: int) -> None:
    """Child process: the sandbox with 10,000 contacts, until told to stop."""
    # Search limit raised: the benchmark measures latency, not HubSpot's 5/s policy.
    with HubSpotSandbox(search_per_second=10_000, ten_second_limit=100_000) as box:
        box.seed_demo()
        box.seed_contacts(10_000, owned_fraction=0.3,
                          created_between=(start_ms, start_ms + 7 * 86_400_000), rng_seed=1)
        conn.send((box.base_url, box.token, box.ca_file))
        conn.recv()
        conn.send([e.duration * 1000 for e in box.request_log
                   if e.path.endswith("/search")])


def search_bench() -> None:
    start_ms = int(time.time() * 1000) - 7 * 86_400_000
    parent, child = multiprocessing.Pipe()
    # The sandbox runs in its own process, as it does against a real leadrouter: the
    # client's model deserialisation must not compete with the server for one GIL.
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, start_ms))
    proc.start()
    base_url, token, ca_file = parent.recv()
    body = {
        "filterGroups": [{"filters": [
            {"propertyName": "createdate", "operator": "GTE", "value": str(start_ms)},
            {"propertyName": "hubspot_owner_id", "operator": "NOT_HAS_PROPERTY"},
        ]}],
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
        "properties": ["hubspot_owner_id", "insurance_type", "state", "zip",
                       "hs_analytics_source", "level_of_care", "createdate"],
        "limit": PAGE,
    }
    client = hubspot.Client.create(access_token=token, host=base_url, ssl_ca_cert=ca_file,
                                   retry=Retry(total=0, raise_on_status=False))
    api = client.crm.contacts.search_api  # keep it: one ApiClient, one urllib3 pool
    timings: list[float] = []
    total = 0
    for i in range(RUNS + 5):
        req = PublicObjectSearchRequest(
            filter_groups=body["filterGroups"], sorts=body["sorts"],
            properties=body["properties"], limit=PAGE, after=str(PAGE * (i % 10)),
        )
        t0 = time.perf_counter()
        page = api.do_search(public_object_search_request=req)
        if i >= 5:  # warm-up excluded
            timings.append((time.perf_counter() - t0) * 1000)
        total = page.total
        assert len(page.results) == PAGE

    pool = urllib3.PoolManager(ca_certs=ca_file, retries=False)
    raw: list[float] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for i in range(RUNS + 5):
        payload = json.dumps({**body, "after": str(PAGE * (i % 10))}).encode()
        t0 = time.perf_counter()
        resp = pool.request("POST", base_url + "/crm/v3/objects/contacts/search",
                            body=payload, headers=headers)
        data = json.loads(resp.data)
        if i >= 5:
            raw.append((time.perf_counter() - t0) * 1000)
        assert len(data["results"]) == PAGE
    parent.send("stop")
    server = parent.recv()[-RUNS:]
    proc.join(timeout=10)

    print(f"search, 10,000 contacts, {total} matching, page of {PAGE}, {RUNS} runs, "
          "sandbox in its own process:")
    print(f"  answer (HTTPS request -> parsed JSON, urllib3)  median "
          f"{statistics.median(raw):5.1f} ms   p95 {pct(raw, 0.95):5.1f} ms   "
          f"max {max(raw):5.1f} ms")
    print(f"  server-side handling                            median "
          f"{statistics.median(server):5.1f} ms   p95 {pct(server, 0.95):5.1f} ms")
    print(f"  through hubspot-api-client (incl. its models)   median "
          f"{statistics.median(timings):5.1f} ms   p95 {pct(timings, 0.95):5.1f} ms   "
          f"max {max(timings):5.1f} ms")


def memory_bench() -> None:
    gc.collect()
    before = rss_mb()
    box = HubSpotSandbox()
    box.seed_demo()
    t0 = time.perf_counter()
    box.seed_contacts(100_000, owned_fraction=0.3, rng_seed=2)
    seeded_s = time.perf_counter() - t0
    gc.collect()
    after = rss_mb()
    print("memory, 100,000 contacts:")
    print(f"  RSS growth {after - before:6.1f} MB (whole process RSS {after:.1f} MB), "
          f"seeded in {seeded_s:.1f} s")
    assert len(box.contact_ids()) == 100_000


if __name__ == "__main__":
    # Memory first: a clean heap makes the RSS growth a fair figure.
    memory_bench()
    search_bench()
