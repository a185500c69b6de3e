"""A multi-portal, multi-worker deployment for tests and `bench/scale.py`: one HubSpot sandbox
per portal (HTTPS on loopback, disjoint record ids), one PostgreSQL database, and real
`leadrouter run` processes sharing it, each with its own listen port.

No contact details reach any output: the sandboxes' synthetic contacts carry fictional names
and reserved example domains, and only CRM ids are read back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from sandbox.hubspot import HubSpotSandbox
from state import AuditKind, LeadStatus, OutboxKind, OutboxStatus, open_store
from tests.pipeline.conftest import config_text

REPO = Path(__file__).resolve().parents[2]
ID_STRIDE = 10_000_000  # each portal's sandbox numbers its records from its own block


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def portal_text(box: HubSpotSandbox, portal: str, hub_id: int) -> str:
    """One portal file: the test rulebook on this sandbox, everything but `[service]`."""
    text = config_text(box, Path("unused.db"),
                       extra_hubspot=f'portal_id = "{hub_id}"\nrequests_per_10s = 1000\n'
                                     "searches_per_second = 50")
    text = text.replace('token_env = "HUBSPOT_TOKEN"', f'token_env = "{token_env(portal)}"')
    return "[crm]" + text.split("[crm]", 1)[1]


def token_env(portal: str) -> str:
    return f"LEADROUTER_TEST_TOKEN_{portal.upper()}"


@dataclass
class Worker:
    """One `leadrouter run` process."""

    name: str
    config: Path
    port: int
    folder: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync", "--config", str(self.config), "run"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.folder.glob(f"{self.name}-*.log")))


@dataclass
class Deployment:
    folder: Path
    state_url: str
    portals: list[str]
    boxes: dict[str, HubSpotSandbox] = field(default_factory=dict)
    leads: dict[str, list[str]] = field(default_factory=dict)  # portal -> contact ids
    workers: list[Worker] = field(default_factory=list)
    claim_lease: str = ""  # "" = the default (2m): a kill must not make work wait for it
    poll_interval: str = "1s"
    webhook_secret: str = ""  # set: every portal takes HubSpot webhooks signed with it

    def __enter__(self) -> Deployment:
        portals_dir = self.folder / "portals.d"
        portals_dir.mkdir(parents=True)
        for index, portal in enumerate(self.portals):
            box = HubSpotSandbox(ten_second_limit=1000, search_per_second=50)
            box.__enter__()
            self.boxes[portal] = box
            box.seed_demo()
            # record ids disjoint between portals: a write to the wrong one cannot land
            box.store._next_id = (index + 1) * ID_STRIDE
            (portals_dir / f"{portal}.toml").write_text(
                portal_text(box, portal, self.hub_id(portal)))
        return self

    def hub_id(self, portal: str) -> int:
        """The portal's HubSpot account (`[crm.hubspot] portal_id`)."""
        return 7000 + self.portals.index(portal)

    def seed(self, per_portal: int, *, just_now: bool = False) -> None:
        """Unowned contacts in every portal: created over the last two hours (a backlog
        for workers about to start), or `just_now` (new leads for running workers)."""
        now = datetime.now(UTC)
        since = now - timedelta(seconds=1) if just_now else now - timedelta(hours=2)
        until = now if just_now else now - timedelta(minutes=1)
        for index, (portal, box) in enumerate(self.boxes.items()):
            self.leads[portal] = box.seed_contacts(per_portal, created_between=(since, until),
                                                   rng_seed=index + 1)

    def add_workers(self, count: int) -> list[Worker]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("HUBSPOT_", "LEADROUTER_"))}  # no webhook secret: polling
        env.update({token_env(p): box.token for p, box in self.boxes.items()})
        env["PYTHONUNBUFFERED"] = "1"
        if self.webhook_secret:
            env["HUBSPOT_CLIENT_SECRET"] = self.webhook_secret
        lease = f'claim_lease = "{self.claim_lease}"\n' if self.claim_lease else ""
        made = []
        for _ in range(count):
            name = f"worker{len(self.workers)}"
            port = _free_port()
            config = self.folder / f"{name}.toml"
            config.write_text(
                f'[service]\nstate_url = "{self.state_url}"\nportals = "portals.d"\n'
                f'listen = "127.0.0.1:{port}"\npoll_interval = "{self.poll_interval}"\n'
                f'apply_interval = "500ms"\nescalation_interval = "2s"\n'
                f'{lease}backfill = "24h"\nlog_format = "json"\n')
            worker = Worker(name, config, port, self.folder, env)
            self.workers.append(worker)
            made.append(worker)
        return made

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        for box in self.boxes.values():
            box.__exit__(None, None, None)

    # -- what the CRMs and the store show ------------------------------------------------
    def tasked(self) -> int:
        """Leads (all portals) whose contact has at least one task."""
        return sum(1 for portal, ids in self.leads.items()
                   for cid in ids if self.boxes[portal].tasks_for(cid))

    def wait_all_tasked(self, timeout: float) -> bool:
        total = sum(len(ids) for ids in self.leads.values())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tasked() >= total and self.store_done():
                return True
            time.sleep(0.5)
        return False

    def store_done(self) -> bool:
        for portal, ids in self.leads.items():
            store = open_store(self.state_url, migrate_schema=False, portal=portal)
            try:
                with store.unit_of_work(read_only=True) as uow:
                    statuses = uow.leads.statuses("hubspot", ids)
            finally:
                store.close()
            if set(statuses.values()) != {LeadStatus.TASK_CREATED.value} or \
                    len(statuses) != len(ids):
                return False
        return True

    def healthy(self, worker: Worker) -> bool:
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                return client.get(worker.url + "/healthz").status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class PortalFacts:
    """One portal's outcome, from its sandbox and its rows in the store."""

    owners: dict[str, str | None]  # contact -> hubspot_owner_id
    tasks: dict[str, int]  # contact -> tasks on it
    foreign_tasks: int  # tasks on records this portal does not have
    rows: dict[str, str]  # crm id -> status, this portal's lead rows
    decisions: Counter[str]  # crm id -> routing decisions recorded
    assignments: set[int]
    task_rows_done: Counter[str]  # crm id -> done task outbox rows


def facts(dep: Deployment, portal: str) -> PortalFacts:
    box = dep.boxes[portal]
    ids = dep.leads[portal]
    own = set(box.contact_ids())
    owners = {cid: box.contact(cid)["properties"].get("hubspot_owner_id") or None
              for cid in ids}
    tasks = {cid: len(box.tasks_for(cid)) for cid in ids}
    linked = sum(tasks.values())
    foreign = len(box.all_tasks()) - linked
    store = open_store(dep.state_url, migrate_schema=False, portal=portal)
    try:
        with store.unit_of_work(read_only=True) as uow:
            rows = {r.crm_id: r for r in uow.leads.by_status()}
            decisions: Counter[str] = Counter()
            for cid in rows:
                decisions[cid] = sum(1 for a in uow.audit.for_lead("hubspot", cid)
                                     if a.kind == AuditKind.DECISION.value)
            done: Counter[str] = Counter()
            for cid, row in rows.items():
                item = uow.outbox.get_for(cid, row.assignment, OutboxKind.TASK)
                if item is not None and item.status == OutboxStatus.DONE:
                    done[cid] += 1
    finally:
        store.close()
    assert set(rows) <= own, "a lead row of this portal names another portal's record"
    return PortalFacts(owners, tasks, foreign,
                       {cid: r.status.value if hasattr(r.status, "value") else str(r.status)
                        for cid, r in rows.items()},
                       decisions, {r.assignment for r in rows.values()}, done)
