"""After hours: a lead that arrives at night is held, then routed when the shift starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from state import AuditKind
from sync.cycle import run_cycle
from tests.pipeline.conftest import FRIDAY_NIGHT, lead_rows, night_context


def test_a_night_lead_is_held_and_routed_at_the_next_shift_start(
        box: HubSpotSandbox, tmp_path: Path) -> None:
    # Friday 2026-11-27 21:00 in Phoenix (UTC-7): nobody is on shift until Monday 08:00
    clock = [FRIDAY_NIGHT]
    ctx = night_context(box, tmp_path / "state.db", clock)
    try:
        cid = box.create_contact({"insurance_type": "commercial", "state": "AZ"},
                                 created_at=clock[0] - timedelta(minutes=1))
        first = run_cycle(ctx)
        row = lead_rows(ctx)[cid]
        assert first.routing.held == 1 and row.status == "held"
        assert row.held_until == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Mon 08:00 MST
        assert not box.contact(cid)["properties"].get("hubspot_owner_id")

        clock[0] = datetime(2026, 11, 30, 14, 59, tzinfo=UTC)
        assert run_cycle(ctx).released == 0
        clock[0] = datetime(2026, 11, 30, 15, 0, 30, tzinfo=UTC)
        later = run_cycle(ctx)
        assert later.released == 1 and later.routing.routed == 1
        assert box.contact(cid)["properties"]["hubspot_owner_id"]
        assert len(box.tasks_for(cid)) == 1
        with ctx.store.unit_of_work(read_only=True) as uow:
            kinds = [r.kind for r in uow.audit.for_lead("hubspot", cid)]
        assert kinds[:4] == [AuditKind.ARRIVED, AuditKind.HELD, AuditKind.RELEASED,
                             AuditKind.DECISION]
    finally:
        ctx.close()
