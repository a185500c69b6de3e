"""The pipeline's `notify` step: send the queued messages, outside any transaction.

Each claimed row is one message on one channel: sent -> done (and `notified` in the lead's
trail); retriable or uncertain -> tried again with backoff, not before the provider's
Retry-After, up to `MAX_ATTEMPTS`; permanent (or out of attempts) -> failed, and
`notify_failed` in the trail. An uncertain send is looked up before it is sent again where
the channel can be asked (SMS). Rows are independent: a failing channel blocks nothing else.
While a message is in flight its row's claim is kept (`sync.claims`), so no other worker
sends it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from state import NotificationPayload, OutboxItem, OutboxKind, UnitOfWork
from sync.apply import MAX_ATTEMPTS
from sync.claims import KeptClaim
from sync.config.notifications import Contact
from sync.context import Context
from sync.lifecycle import LeadEvent, transition
from sync.logs import get_logger
from sync.notify.channels import Channel, Message, Permanent, SendError, Uncertain
from sync.notify.messages import ref_of

log = get_logger("leadrouter.notify")
BATCH = 20  # rows claimed at once (each renewal touches every held row)
MAX_BACKOFF = 300.0


@dataclass
class NotifyResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (channel, outcome)


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    seconds = min(MAX_BACKOFF, 2.0 ** min(attempts, 8))
    return timedelta(seconds=max(seconds, min(retry_after or 0.0, 3600.0)))


def _address(channel: str, contact: Contact | None) -> str | None:
    """Where the message goes on `channel`; None when the coordinator has no such address."""
    if contact is None:
        return None
    if channel == "email":
        return contact.email
    if channel == "sms":
        return contact.phone
    return ""  # Slack: the webhook's channel


def deliver_notifications(ctx: Context, *, stopping: Callable[[], bool] | None = None
                          ) -> NotifyResult:
    """Send every due notification (in batches); figures by channel and outcome."""
    result = NotifyResult()
    while not (stopping is not None and stopping()):
        now = ctx.clock()
        with ctx.store.unit_of_work() as uow:
            rows = [_counted(uow, ctx.channels, row) for row in uow.outbox.claim(
                BATCH, now, lease=ctx.config.service.claim_lease, kind=OutboxKind.NOTIFY)]
            uow.commit()
        # a slow provider must not let another worker take (and send) a row meanwhile
        with KeptClaim(ctx, rows) as claim:
            for row in rows:
                if row.id in claim.renew():  # still ours, for a lease from now
                    _deliver(ctx, ctx.channels, row, result)
                claim.release([row.id])
        if len(rows) < BATCH:
            break
    return result


def _counted(uow: UnitOfWork, channels: Mapping[str, Channel], row: OutboxItem
             ) -> OutboxItem:
    """Count the attempt before it is made where the provider can be asked afterwards: a
    worker killed mid-send then leaves `attempts > 0`, and the next try looks first."""
    channel = channels.get(row.notification().channel)
    if channel is None or not channel.can_look_up:
        return row
    return replace(row, attempts=uow.outbox.count_attempt(row.id))


def _deliver(ctx: Context, channels: Mapping[str, Channel], row: OutboxItem,
             result: NotifyResult) -> None:
    payload = row.notification()
    contact = ctx.config.notifications.contacts.get(payload.coordinator)
    channel, to = channels.get(payload.channel), _address(payload.channel, contact)
    if channel is None or to is None:
        _finish(ctx, row, payload, result, error=Permanent(
            f"{payload.channel}: not configured for this coordinator any more"))
        return
    message = Message(to, payload.subject, payload.text, ref_of(row.key),
                      contact.slack_user if contact else None)
    counted = channel.can_look_up  # this attempt was counted when the row was claimed
    try:
        # a retry first asks whether an earlier attempt (uncertain, or cut off by a crash)
        # got through
        earlier = row.attempts - 1 if counted else row.attempts
        receipt = channel.already_sent(message) if earlier else None
        outcome = "found" if receipt is not None else "sent"
        if receipt is None:
            receipt = channel.send(message)
    except SendError as exc:
        _finish(ctx, row, payload, result, error=exc, counted=counted)
        return
    _finish(ctx, row, payload, result, receipt=receipt, outcome=outcome)


def _finish(ctx: Context, row: OutboxItem, payload: NotificationPayload, result: NotifyResult,
            *, receipt: str | None = None, outcome: str = "sent",
            error: SendError | None = None, counted: bool = False) -> None:
    now = ctx.clock()
    attempts = row.attempts if counted else row.attempts + 1  # with this one
    facts = {"channel": payload.channel, "notification": payload.event}
    with ctx.store.unit_of_work() as uow:
        if error is None:
            uow.outbox.mark_done(row.id, (receipt or "")[:255] or None, now=now)
            _trail(uow, ctx, row, payload, LeadEvent.NOTIFIED, now, facts)
            result.sent += 1
        elif isinstance(error, Permanent) or attempts >= MAX_ATTEMPTS:
            uow.outbox.mark_failed(row.id, error.reason, None, counted=counted)
            _trail(uow, ctx, row, payload, LeadEvent.NOTIFY_FAILED, now,
                   {**facts, "error": error.reason})
            result.failed += 1
            outcome = "failed"
        else:
            uow.outbox.mark_failed(row.id, error.reason,
                                   now + _backoff(row.attempts, error.retry_after),
                                   counted=counted)
            result.retried += 1
            outcome = "uncertain" if isinstance(error, Uncertain) else "retry"
        uow.commit()
    result.outcomes.append((payload.channel, outcome))
    if error is not None:
        log.warning("notify.failed" if outcome == "failed" else "notify.retry",
                    crm=ctx.crm, lead=row.crm_id, channel=payload.channel,
                    owner=payload.coordinator, error=error.reason, attempts=attempts)


def _trail(uow: UnitOfWork, ctx: Context, row: OutboxItem, payload: NotificationPayload,
           event: LeadEvent, now: datetime, facts: dict[str, str]) -> None:
    """The outcome in the lead's trail (`explain`); a lead no longer stored has none."""
    if uow.leads.get(ctx.crm, row.crm_id) is None:
        return
    transition(uow, ctx, row.crm_id, event, now, coordinator=payload.coordinator,
               facts=facts)
