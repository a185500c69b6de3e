"""The demo's cast: a stream of synthetic leads arriving in the sandbox CRM, and
coordinators who call (most of) their new leads -- or don't."""

from __future__ import annotations

import heapq
import random
import threading
import time
from datetime import UTC, datetime, timedelta

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.seed import synthetic_contacts

PEOPLE = ("1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009")
QUEUE = "1090"
SUPERVISOR = "1009"


class LeadStream(threading.Thread):
    """New contacts at about `per_minute`, as web forms and call tracking create them:
    most unowned, some in the Admissions Inbox queue, a few already owned by a person."""

    def __init__(self, box: HubSpotSandbox, per_minute: float, stop: threading.Event,
                 rng: random.Random, burst: int = 4) -> None:
        super().__init__(name="demo-leads", daemon=True)
        self.box, self.per_minute, self.stop, self.rng = box, per_minute, stop, rng
        self.burst = burst
        self.lock = threading.Lock()
        self.routable: list[str] = []  # contacts leadrouter should route (not person-owned)
        self.created = 0

    def backlog(self, count: int) -> None:
        """Leads that came in a few minutes before the service started (found by polling)."""
        now = datetime.now(UTC)
        ids = self.box.seed_contacts(count, created_between=(now - timedelta(minutes=5),
                                                             now - timedelta(minutes=1)),
                                     rng_seed=self.rng.randrange(10**6))
        with self.lock:
            self.routable += ids
            self.created += len(ids)

    def one(self) -> None:
        now_ms = int(time.time() * 1000)
        props, _ = synthetic_contacts(1, start_ms=now_ms, end_ms=now_ms, owner_ids=PEOPLE,
                                      owned_fraction=0.08,
                                      rng_seed=self.rng.randrange(10**9))[0]
        props = {k: v for k, v in props.items() if k != "hubspot_owner_assigneddate"}
        person_owned = "hubspot_owner_id" in props
        if not person_owned and self.rng.random() < 0.25:
            props["hubspot_owner_id"] = QUEUE  # parked in the shared inbox: still routed
        cid = self.box.create_contact(props)
        with self.lock:
            self.created += 1
            if not person_owned:
                self.routable.append(cid)

    def run(self) -> None:
        for _ in range(self.burst):
            if self.stop.is_set():
                return
            self.one()
            self.stop.wait(0.3)
        mean = 60.0 / max(self.per_minute, 0.1)
        while not self.stop.wait(min(self.rng.expovariate(1 / mean), 4 * mean)):
            self.one()

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.routable)


class Callers(threading.Thread):
    """Coordinators working their queue: for every (lead, owner) pair, decide once whether
    and when that owner logs a call. About half call within the deadline, some call late,
    the rest never do (those leads get reassigned, then escalated to the supervisor)."""

    def __init__(self, box: HubSpotSandbox, leads: LeadStream, stop: threading.Event,
                 rng: random.Random, sla_seconds: float = 20.0) -> None:
        super().__init__(name="demo-callers", daemon=True)
        self.box, self.leads, self.stop, self.rng = box, leads, stop, rng
        self.sla = sla_seconds
        self.decided: set[tuple[str, str]] = set()
        self.calls: list[tuple[float, str, str]] = []  # (due, contact, owner)
        self.made = 0

    def _decide(self, cid: str, owner: str) -> None:
        self.decided.add((cid, owner))
        r = self.rng.random()
        if owner == SUPERVISOR:
            delay = self.rng.uniform(4, 12) if r < 0.8 else None
        elif r < 0.5:
            delay = self.rng.uniform(3, self.sla * 0.7)
        elif r < 0.6:
            delay = self.rng.uniform(self.sla * 1.05, self.sla * 1.3)  # late
        else:
            delay = None
        if delay is not None:
            heapq.heappush(self.calls, (time.monotonic() + delay, cid, owner))

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self._tick()
            except KeyError:
                continue

    def _tick(self) -> None:
        for cid in self.leads.snapshot():
            owner = self.box.contact(cid)["properties"].get("hubspot_owner_id") or ""
            if owner in PEOPLE and (cid, owner) not in self.decided:
                self._decide(cid, owner)
        now = time.monotonic()
        while self.calls and self.calls[0][0] <= now:
            _, cid, owner = heapq.heappop(self.calls)
            current = self.box.contact(cid)["properties"].get("hubspot_owner_id")
            if current == owner:  # still theirs: the call counts as the contact attempt
                self.box.log_call(cid, owner_id=owner)
                self.made += 1
