"""`leadrouter explain CRM_ID`: one lead's trail, from arrival to contact or escalation.

The trail is the lead's stored events (`lead_events`); each shows the audit row written with
it for the routing explanation (the steps) and the facts of the change.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from state import AuditEntry, LeadEventRecord, LeadRecord, Store

_TITLES = {
    "arrived": "arrived", "decision": "routed", "held": "held (after hours)",
    "released": "released from hold", "owner_written": "owner written to the CRM",
    "task_created": "task created", "contact_attempt": "contact attempt",
    "breach": "SLA breached", "escalation": "re-routed (escalation)",
    "overridden": "owner changed by a person", "skipped": "skipped",
    "unroutable": "unroutable", "error": "error",
    "set_aside": "set aside (not routed until it changes)",
    "reevaluated": "eligible now: routed again", "retry": "tried again (was unroutable)",
    "notified": "notification sent", "notify_failed": "notification given up",
}
# events whose title is not their audit kind's
_EVENT_TITLES = {
    "reassigned": "re-routed (escalation)", "escalated_final": "escalated to the final owner",
    "escalation_failed": "escalation failed: no usable final owner",
    "record_missing": "skipped (the record no longer exists in the CRM)",
    "write_failed": "error", "unreadable": "set aside (not routed until it changes)",
    "earlier_task_created": "task created (an earlier assignment's)",
}


def _detail_lines(detail: dict[str, Any]) -> list[str]:
    lines = []
    for step in detail.pop("steps", None) or []:
        who = f" [{step.get('coordinator')}]" if step.get("coordinator") else ""
        lines.append(f"      · {step.get('kind')}{who}: {step.get('detail')}")
    facts = ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))
    if facts:
        lines.insert(0, f"      {facts}")
    return lines


def _title(event: LeadEventRecord, audit: AuditEntry | None) -> str:
    if event.event in _EVENT_TITLES:
        return _EVENT_TITLES[event.event]
    kind = audit.kind if audit is not None else event.event
    return _TITLES.get(kind, kind)


def explain(store: Store, crm: str, crm_id: str, console: Console) -> bool:
    """Print the trail; False when the store has never seen the lead."""
    with store.unit_of_work(read_only=True) as uow:
        lead: LeadRecord | None = uow.leads.get(crm, crm_id)
        if lead is None:
            return False
        events = uow.events.for_lead(crm, crm_id)
        audits = uow.audit.by_ids(e.audit_id for e in events if e.audit_id is not None)
        console.print(f"[bold]lead {crm}/{crm_id}[/bold]  status={lead.status}  "
                      f"owner={lead.owner or '-'}  rule={lead.rule or '-'}  "
                      f"assignment v{lead.assignment}  reassignments={lead.reassignments}")
        console.print(f"  created in CRM {lead.created_at.isoformat()}  "
                      f"sla due {lead.sla_due.isoformat() if lead.sla_due else '-'}  "
                      f"contacted {lead.contacted_at.isoformat() if lead.contacted_at else '-'}")
        for event in events:
            audit = audits.get(event.audit_id) if event.audit_id is not None else None
            who = f" → {event.coordinator}" if event.coordinator else ""
            rule = f" (rule {event.rule})" if event.rule else ""
            detail = dict(audit.detail) if audit is not None else dict(event.detail)
            title = _title(event, audit)
            if event.event == "arrived" and detail.get("via") == "email":  # email intake
                title = (f"arrived by email (format {detail.get('format')}) at "
                         f"{detail.get('received_at')}")
            console.print(f"{event.at.isoformat()}  {title}{who}{rule}", highlight=False)
            detail.pop("from_audit", None)
            for line in _detail_lines(detail):
                console.print(line, highlight=False, markup=False)
    return True
