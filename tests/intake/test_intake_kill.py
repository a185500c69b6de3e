"""SIGKILL during intake: `leadrouter sync --once` killed at random moments (a slow CRM
create makes many kills land between an applied create and its commit), then a clean run:
every message made exactly one contact, one routing and one task; none lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from sandbox.hubspot import HubSpotSandbox, RouteFault
from state import LeadStatus, open_store
from tests.intake.conftest import HUBSPOT_FIELDS, intake_section
from tests.intake.dovecot import Dovecot
from tests.intake.messages import Person, html_message, text_message
from tests.pipeline.conftest import config_text

KILLS = 6
MAX_ROUNDS = 30  # bounded: each round lasts at most a few seconds


def _sync(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sync", "--config", str(config), "sync",
                             "--once"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _recorded(db: Path) -> int:
    """Messages whose record the store holds (recorded or moved on)."""
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            if "intake_message" not in inspect(conn).get_table_names():
                return 0
            return int(conn.execute(text(
                "SELECT count(*) FROM intake_message WHERE state IN ('recorded', 'processed')")
                ).scalar() or 0)
    finally:
        engine.dispose()


def test_kills_at_random_moments_lose_nothing_and_duplicate_nothing(
        box: HubSpotSandbox, dovecot: Dovecot, tmp_path: Path) -> None:
    people = [Person(i) for i in range(100, 120)]
    for i, person in enumerate(people):
        dovecot.deliver(text_message(person) if i % 2 else html_message(person))
    db = tmp_path / "state.db"
    config = tmp_path / "leadrouter.toml"
    config.write_text(config_text(box, db) + intake_section(dovecot, HUBSPOT_FIELDS))
    env = {**os.environ, **dovecot.environ(), "HUBSPOT_TOKEN": box.token}
    box.route_faults["POST /crm/v3/objects/contacts"] = RouteFault(after=0.6)
    rng = random.Random(13)
    kills = uncertain = 0
    seeded = len(box.contact_ids())
    for _ in range(MAX_ROUNDS):
        if kills >= KILLS or dovecot.folder_count("INBOX") == 0:
            break
        before = len(box.contact_ids())
        process = _sync(config, env)
        # wait for this run's first create to be applied (its answer is 0.6 s late), then
        # kill at a random moment: often before the answer, always during intake
        deadline = time.monotonic() + 20
        while (len(box.contact_ids()) == before and process.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(30)
        # records the CRM has whose message the store has not recorded yet: creates whose
        # answer the kill lost (the next run must find them, not create them again)
        uncertain = max(uncertain, len(box.contact_ids()) - seeded - _recorded(db))
    assert kills >= 5, "the runs ended before they could be killed: slow the CRM down"
    assert uncertain >= 1, "no kill landed between a create and its commit"
    del box.route_faults["POST /crm/v3/objects/contacts"]
    for _ in range(3):  # a clean run (another if the first left owner writes to retry)
        assert _sync(config, env).wait(120) == 0
    assert dovecot.folder_count("INBOX") == 0
    assert dovecot.folder_count("leadrouter-processed") == len(people)

    by_email: dict[str, list[str]] = {}
    for cid in box.contact_ids():
        email = str(box.contact(cid)["properties"].get("email") or "")
        by_email.setdefault(email, []).append(cid)
    store = open_store(f"sqlite:///{db}", migrate_schema=False)
    try:
        with store.unit_of_work(read_only=True) as uow:
            for person in people:
                ids = by_email.get(person.email.lower(), [])
                assert len(ids) == 1, (person.n, ids)  # exactly one record
                lead = uow.leads.get("hubspot", ids[0])
                assert lead is not None and lead.status == LeadStatus.TASK_CREATED
                assert lead.assignment == 1  # routed once
                assert len(box.tasks_for(ids[0])) == 1  # one task
    finally:
        store.close()
