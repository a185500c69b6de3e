"""`leadrouter explain CRM_ID`: one lead's trail, from arrival to contact or escalation."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from state import AuditRow, LeadRow, Store

_TITLES = {
    "arrived": "arrived", "decision": "routed", "held": "held (after hours)",
    "released": "released from hold", "owner_written": "owner written to the CRM",
    "task_created": "task created", "contact_attempt": "contact attempt",
    "breach": "SLA breached", "escalation": "re-routed (escalation)",
    "overridden": "owner changed by a person", "skipped": "skipped",
    "unroutable": "unroutable", "error": "error",
    "set_aside": "set aside (not routed until it changes)",
    "reevaluated": "eligible now: routed again", "retry": "tried again (was unroutable)",
}


def _detail_lines(row: AuditRow) -> list[str]:
    detail: dict[str, Any] = dict(row.detail or {})
    lines = []
    for step in detail.pop("steps", None) or []:
        who = f" [{step.get('coordinator')}]" if step.get("coordinator") else ""
        lines.append(f"      · {step.get('kind')}{who}: {step.get('detail')}")
    facts = ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))
    if facts:
        lines.insert(0, f"      {facts}")
    return lines


def explain(store: Store, crm: str, crm_id: str, console: Console) -> bool:
    """Print the trail; False when the store has never seen the lead."""
    with store.unit_of_work(read_only=True) as uow:
        lead: LeadRow | None = uow.leads.get(crm, crm_id)
        if lead is None:
            return False
        rows = uow.audit.for_lead(crm, crm_id)
        console.print(f"[bold]lead {crm}/{crm_id}[/bold]  status={lead.status}  "
                      f"owner={lead.owner or '-'}  rule={lead.rule or '-'}  "
                      f"assignment v{lead.assignment}  reassignments={lead.reassignments}")
        console.print(f"  created in CRM {lead.created_at.isoformat()}  "
                      f"sla due {lead.sla_due.isoformat() if lead.sla_due else '-'}  "
                      f"contacted {lead.contacted_at.isoformat() if lead.contacted_at else '-'}")
        for row in rows:
            who = f" → {row.coordinator}" if row.coordinator else ""
            rule = f" (rule {row.rule})" if row.rule else ""
            console.print(f"{row.at.isoformat()}  {_TITLES.get(row.kind, row.kind)}{who}{rule}",
                          highlight=False)
            for line in _detail_lines(row):
                console.print(line, highlight=False, markup=False)
    return True
