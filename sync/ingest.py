"""Ingest: poll the CRM with a durable cursor, and turn webhook hints into lead rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import CrmLead
from state import AuditKind, LeadStatus, UnitOfWork
from sync.context import Context
from sync.logs import get_logger

log = get_logger("leadrouter.ingest")
POLL_PAGE = 500  # leads per transaction
MAX_PAGES_PER_CYCLE = 40


@dataclass
class IngestResult:
    seen: int = 0
    new: int = 0
    skipped: int = 0
    from_webhooks: int = 0


def cursor_name(ctx: Context) -> str:
    return f"{ctx.crm}:poll"


def _record(uow: UnitOfWork, ctx: Context, leads: Sequence[CrmLead],
            result: IngestResult) -> None:
    now = ctx.clock()
    for lead in leads:
        result.seen += 1
        if not uow.leads.add_seen(ctx.crm, lead.crm_id, lead.created_at, lead.attributes,
                                  now=now):
            continue
        result.new += 1
        uow.audit.add(ctx.crm, lead.crm_id, AuditKind.ARRIVED, now,
                      detail={"created_at": lead.created_at.isoformat(),
                              "crm_owner": lead.owner_id, "eligible": lead.eligible})
        if not lead.eligible:
            result.skipped += 1
            uow.leads.update(ctx.crm, lead.crm_id, status=LeadStatus.SKIPPED, now=now,
                             crm_owner_id=lead.owner_id)
            uow.audit.add(ctx.crm, lead.crm_id, AuditKind.SKIPPED, now,
                          detail={"why": "owned by a person or outside the configured filters"})


def poll(ctx: Context) -> IngestResult:
    """Read new records page by page; each page and the cursor commit together."""
    result = IngestResult()
    since = ctx.clock() - ctx.config.service.backfill
    for _ in range(MAX_PAGES_PER_CYCLE):
        with ctx.store.unit_of_work(read_only=True) as uow:
            cursor = uow.cursors.get(cursor_name(ctx))
        page = ctx.connector.poll(cursor, since, POLL_PAGE)
        with ctx.store.unit_of_work() as uow:
            _record(uow, ctx, page.leads, result)
            if page.cursor != cursor:  # connectors never move it backwards
                uow.cursors.set(cursor_name(ctx), page.cursor, now=ctx.clock())
            uow.commit()
        if not page.more:
            break
    if result.new:
        log.info("ingest.polled", count=result.seen, routed=result.new - result.skipped,
                 skipped=result.skipped)
    return result


def drain_inbox(ctx: Context, *, limit: int = 500) -> IngestResult:
    """Webhook events are hints: fetch those records from the CRM and record them."""
    result = IngestResult()
    with ctx.store.unit_of_work(read_only=True) as uow:
        events = [(row.id, row.crm_id) for row in uow.inbox.unprocessed(limit)
                  if row.source == ctx.crm]
    if not events:
        return result
    ids = sorted({crm_id for _, crm_id in events})
    leads = ctx.connector.fetch(ids)
    with ctx.store.unit_of_work() as uow:
        _record(uow, ctx, leads, result)
        uow.inbox.mark_processed([event_id for event_id, _ in events if event_id is not None],
                                 now=ctx.clock())
        uow.commit()
    result.from_webhooks = len(events)
    return result
