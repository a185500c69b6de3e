"""Owner writes: idempotent and compare-before-write, a batch per call; the outcomes of a
batch recorded together (or one by one when that fails)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import CrmError, OwnerWrite, OwnerWriteResult, WriteOutcome
from state import LeadRecord, LeadStatus, OutboxItem, OutboxKind, UnitOfWork
from sync.apply.common import (
    ApplyResult,
    backoff,
    call_crm,
    claim_batch,
    in_bulk,
    in_savepoint,
    record_failure,
)
from sync.batches import split_on_refusal
from sync.context import Context
from sync.lifecycle import Change, LeadEvent, transition, transition_many


@dataclass(frozen=True)
class OwnerFlight:
    """A claimed batch of owner writes and its CRM call, under way (`send_owners`)."""

    rows: list[OutboxItem]
    outcomes: Future[dict[str, OwnerWriteResult]]


def apply_owners(ctx: Context, result: ApplyResult) -> bool:
    """Claim a batch of owner writes, make the call and record the outcomes; False when
    none was due."""
    flight = send_owners(ctx)
    if flight is None:
        return False
    land_owners(ctx, flight, result)
    return True


def send_owners(ctx: Context, pool: Executor | None = None) -> OwnerFlight | None:
    """Claim a batch of owner writes and make its call: in `pool` (it runs while this
    thread does other work; `land_owners` waits for it), or here and now."""
    rows = claim_batch(ctx, OutboxKind.OWNER)
    if not rows:
        return None
    return OwnerFlight(rows, call_crm(pool, _write, ctx, rows))


def _write(ctx: Context, rows: Sequence[OutboxItem]) -> dict[str, OwnerWriteResult]:
    payloads = {row.id: row.owner_write() for row in rows}
    writes = [OwnerWrite(row.crm_id, payloads[row.id].owner_id,
                         frozenset(payloads[row.id].replaceable),
                         dict(payloads[row.id].properties)) for row in rows]
    return {r.crm_id: r for r in split_on_refusal(
        ctx.connector.write_owners, writes,
        lambda w, exc: OwnerWriteResult(w.crm_id, WriteOutcome.REJECTED, error=str(exc)))}


def land_owners(ctx: Context, flight: OwnerFlight, result: ApplyResult) -> None:
    """Wait for a batch's call and record its outcomes (a CRM error: on its rows)."""
    rows = flight.rows
    try:
        outcomes = flight.outcomes.result()
    except CrmError as exc:
        record_failure(ctx, rows, exc)
        return
    now = ctx.clock()
    written = [(row, outcomes[row.crm_id]) for row in rows if row.crm_id in outcomes
               and outcomes[row.crm_id].outcome in (WriteOutcome.WRITTEN, WriteOutcome.ALREADY)]
    with ctx.store.unit_of_work() as uow:
        done = in_bulk(uow, ctx, written, result,
                       lambda figures: _owners_written(uow, ctx, written, now, figures))
        for row in rows:  # the others, one by one
            if row.id in done:
                continue
            outcome = outcomes.get(row.crm_id)
            if outcome is None or outcome.outcome is WriteOutcome.REJECTED:
                error = outcome.error if outcome and outcome.error else "owner write rejected"
                uow.outbox.mark_failed(row.id, error, now + backoff(row.attempts + 1)
                                       if row.attempts < 3 else None)
                result.failed += 1
                continue
            in_savepoint(uow, ctx, row, now, lambda row=row, outcome=outcome:  # type: ignore[misc]
                         _owner_outcome(uow, ctx, row, outcome, now, result))
        uow.commit()


def _owners_written(uow: UnitOfWork, ctx: Context,
                    written: Sequence[tuple[OutboxItem, OwnerWriteResult]], now: datetime,
                    result: ApplyResult) -> None:
    """`_owner_outcome` of a batch whose owners the CRM has (written, or there already)."""
    leads = uow.leads.get_many(ctx.crm, [row.crm_id for row, _ in written])
    uow.outbox.mark_done_many({row.id: outcome.outcome.value for row, outcome in written},
                              now=now)
    moved: list[tuple[LeadRecord, Change, bool]] = []
    for row, outcome in written:
        lead = leads.get(row.crm_id)
        if lead is not None:
            payload = row.owner_write()
            moved.append((lead, *_owner_change(lead, lead.assignment == row.assignment,
                                               payload.coordinator, payload.owner_id,
                                               outcome.outcome.value, row.assignment, now)))
    updated = transition_many(uow, ctx, [change for _, change, _ in moved], now)
    for (lead, _, moves), after in zip(moved, updated, strict=True):
        _owner_latency(lead, after, moves, now, result)
    result.owners_written += len(written)


def _owner_outcome(uow: UnitOfWork, ctx: Context, row: OutboxItem, outcome: OwnerWriteResult,
                   now: datetime, result: ApplyResult) -> None:
    lead = uow.leads.get(ctx.crm, row.crm_id)
    current = lead is not None and lead.assignment == row.assignment
    payload = row.owner_write()
    if outcome.outcome in (WriteOutcome.WRITTEN, WriteOutcome.ALREADY):
        uow.outbox.mark_done(row.id, outcome.outcome.value, now=now)
        if lead is not None:
            _owner_written(uow, ctx, lead, current, payload.coordinator, payload.owner_id,
                           outcome.outcome.value, row.assignment, now, result)
        result.owners_written += 1
    elif outcome.outcome is WriteOutcome.OVERRIDDEN:
        uow.outbox.mark_done(row.id, "overridden", now=now)
        if current:
            mark_overridden(ctx, uow, row.crm_id, outcome.current_owner, now)
        result.overridden += 1
    else:  # MISSING: deleted or merged in the CRM
        uow.outbox.mark_done(row.id, "missing", now=now)
        uow.outbox.cancel_for_lead(ctx.crm, row.crm_id)
        if current:
            transition(uow, ctx, row.crm_id, LeadEvent.RECORD_MISSING, now,
                       facts={"why": "the record no longer exists in the CRM"})


def _owner_written(uow: UnitOfWork, ctx: Context, lead: LeadRecord, current: bool,
                   coordinator: str, owner_id: str, outcome: str, assignment: int,
                   now: datetime, result: ApplyResult) -> None:
    """The CRM has the owner: the clock's owner is in place (recorded for any assignment)."""
    change, moves = _owner_change(lead, current, coordinator, owner_id, outcome, assignment,
                                  now)
    _owner_latency(lead, transition_many(uow, ctx, [change], now)[0], moves, now, result)


def _owner_change(lead: LeadRecord, current: bool, coordinator: str, owner_id: str,
                  outcome: str, assignment: int, now: datetime) -> tuple[Change, bool]:
    """The lead's `owner_written` event, and whether it moves the lead's clock on."""
    moves = current and lead.status in (LeadStatus.ROUTED, LeadStatus.REASSIGNED,
                                        LeadStatus.ESCALATED_FINAL)
    fields: dict[str, Any] = {"owner_written_at": now} if moves else {}
    return Change(lead.crm_id, LeadEvent.OWNER_WRITTEN, coordinator=coordinator or None,
                  facts={"crm_owner": owner_id, "outcome": outcome,
                         "for_assignment": assignment}, fields=fields), moves


def _owner_latency(lead: LeadRecord, updated: LeadRecord, moves: bool, now: datetime,
                   result: ApplyResult) -> None:
    """A first owner written for a lead's first assignment: its time to owner, measured."""
    if moves and lead.reassignments == 0 and updated.status == LeadStatus.OWNER_WRITTEN:
        result.owner_latencies.append(max(0.0, (now - lead.created_at).total_seconds()))


def mark_overridden(ctx: Context, uow: UnitOfWork, crm_id: str, crm_owner: str | None,
                    now: datetime) -> None:
    """A person chose another owner: respect it, stop reassigning, keep measuring."""
    uow.outbox.cancel_for_lead(ctx.crm, crm_id)
    transition(uow, ctx, crm_id, LeadEvent.OVERRIDDEN, now,
               coordinator=ctx.directory.coordinator_of.get(crm_owner or ""),
               facts={"crm_owner": crm_owner, "why": "a person set another owner"})
