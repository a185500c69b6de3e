"""Made tests/state/data/v1_state.sqlite3 with the pre-Alembic code (commit 57f0313; see
README.md). Kept to show how the fixture was made, not run by the tests."""
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routing.models import PointerUpdate
from state import open_store

T0 = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
path = Path(sys.argv[1])
store = open_store(f"sqlite:///{path}")
with store.unit_of_work() as uow:
    leads = [("90000001", "contacted", "commercial"), ("90000002", "contacted", "medicaid"),
             ("90000003", "skipped", None)]
    for i, (crm_id, status, rule) in enumerate(leads):
        at = T0 + timedelta(minutes=i)
        uow.leads.add_seen("hubspot", crm_id, at, {"insurance": rule or "", "state": "CA",
                                                   "source": "PAID_SEARCH"}, now=at)
        uow.audit.add("hubspot", crm_id, "arrived", at)
        if status == "skipped":
            uow.leads.update("hubspot", crm_id, status="skipped", now=at)
            uow.audit.add("hubspot", crm_id, "skipped", at, detail={"reason": "owned"})
            continue
        uow.leads.assign("hubspot", crm_id, owner="maria", crm_owner_id="1001", rule=rule,
                         sla_due=at + timedelta(minutes=10), now=at)
        uow.audit.add("hubspot", crm_id, "decision", at, coordinator="maria", rule=rule,
                      detail={"candidates": ["maria", "li"]})
        for kind in ("owner", "task"):
            uow.outbox.enqueue(f"lead/{crm_id}/v1/{kind}", "hubspot", crm_id, kind,
                               {"owner": "1001"}, now=at)
        uow.leads.update("hubspot", crm_id, status="contacted",
                         contacted_at=at + timedelta(minutes=4), now=at + timedelta(minutes=4))
        uow.audit.add("hubspot", crm_id, "contact_attempt", at + timedelta(minutes=4),
                      coordinator="maria")
        uow.inbox.add("hubspot", f"contact.creation:{crm_id}", crm_id, "contact.creation",
                      at, received_at=at)
    uow.pointers.save_pointer(PointerUpdate("rule:commercial", last_assigned="maria"))
    uow.cursors.set("hubspot:poll", str(int(T0.timestamp() * 1000)), now=T0)
    uow.commit()
with store.unit_of_work() as uow:
    for row in uow.outbox.pending(100, T0 + timedelta(days=1)):
        uow.outbox.mark_done(row.id, "task-1" if row.kind == "task" else None,
                             now=T0 + timedelta(minutes=1))
    uow.inbox.mark_processed([r.id for r in uow.inbox.unprocessed(100)], now=T0)
    uow.commit()
store.close()
