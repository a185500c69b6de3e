"""One chunk of messages: triage (known, review), intents, one batched lookup, creates,
and the store records (see process.py for the whole flow)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import AuthError, ContactMatches, CrmError, CrmLead, FatalError
from state import LeadStatus, OutboxKind, TaskPayload, UnitOfWork
from state.repos.intake import INTENT, PROCESSED, RECORDED, REVIEW, IntakeMessage
from sync.config.intake import EmailIntake
from sync.context import Context
from sync.intake.clock import ARRIVED_BY, EMAIL
from sync.intake.keys import follow_up_key
from sync.intake.mailbox import Fetched
from sync.intake.parse import Parsed, message_key, parse, read
from sync.lifecycle import LeadEvent, arrive, transition
from sync.logs import get_logger
from sync.routing_input import routing_attributes

log = get_logger("leadrouter.intake")
# a record found on a retry and created this long before the intent still counts as ours
# (clocks of the CRM and this host differ a little)
OWN_RECORD_SKEW = timedelta(seconds=60)
FOLLOW_UP_SUBJECT = "New inquiry by email"
FOLLOW_UP_DUE = timedelta(hours=1)  # after the message arrived
# creates sent this often for one message with no record to show for it (errors, crashes
# during the call): then it goes to review, so one message the CRM keeps failing cannot hold
# up the others. Polls whose lookup fails (an outage) do not count.
MAX_ATTEMPTS = 10
_LEFT_ASIDE = (LeadStatus.SKIPPED, LeadStatus.SET_ASIDE)


@dataclass
class IntakeResult:
    read: int = 0  # messages fetched
    created: int = 0  # new CRM records
    existing: int = 0  # an existing unowned record routed
    follow_ups: int = 0  # an existing owned record: follow-up task queued
    duplicates: int = 0  # copies of a message already handled (redelivered, or re-read)
    review: int = 0  # sent to the review folder
    waiting: int = 0  # left in the folder for the next poll (the CRM failed)


@dataclass(frozen=True)
class Done:
    uid: int
    key: str
    folder: str | None  # where it goes; None: stays for the next poll


@dataclass(frozen=True)
class _Work:
    message: Fetched
    key: str
    parsed: Parsed
    row: IntakeMessage  # its `attempts`: creates sent before (a crash, a lost answer)


def handle_chunk(ctx: Context, intake: EmailIntake, fetched: list[Fetched],
                 result: IntakeResult) -> list[Done]:
    done: list[Done] = []
    pending: list[tuple[Fetched, str, Parsed]] = []
    copies: list[tuple[int, str]] = []  # (uid, key): a second copy of this chunk's message
    for message in fetched:
        triaged = _triage(ctx, intake, message, result)
        if isinstance(triaged, Done):
            done.append(triaged)
        elif any(key == triaged[1] for _, key, _ in pending):
            copies.append((message.uid, triaged[1]))
            result.duplicates += 1
        else:
            pending.append(triaged)
    done = _crm_work(ctx, intake, pending, done, result)
    # each copy goes where its first went (and stays while that one stays)
    first = {d.key: d.folder for d in done}
    return done + [Done(uid, key, first.get(key)) for uid, key in copies]


def _crm_work(ctx: Context, intake: EmailIntake, pending: list[tuple[Fetched, str, Parsed]],
              done: list[Done], result: IntakeResult) -> list[Done]:
    work = _intents(ctx, pending)
    if not work:
        return done
    try:
        ref_property = intake.mailbox.ref_property
        matches = ctx.connector.find_by_email_or_phone(
            [e for w in work if (e := w.parsed.email)],
            [p for w in work if (p := w.parsed.phone)],
            # only a message whose create was sent before can have a record carrying its key
            refs=[w.key for w in work if w.row.attempts] if ref_property else [],
            ref_property=ref_property)
    except AuthError:
        raise  # a person must act: the step stops, the messages stay
    except CrmError as exc:
        _failed(ctx, None, exc)
        result.waiting += len(work)
        return done + [Done(w.message.uid, w.key, None) for w in work]
    made = _Made()
    failing = False
    for item in work:
        if failing:  # the CRM is failing: no more calls this poll
            result.waiting += 1
            done.append(Done(item.message.uid, item.key, None))
            continue
        try:
            done.append(_one(ctx, intake, item, matches, made, result))
        except AuthError:
            raise
        except FatalError as exc:
            _failed(ctx, item.parsed, exc, "intake.crm_rejected")
            done.append(_review(ctx, intake, item.message, item.key,
                                Parsed(item.parsed.format, "crm_rejected"), result))
        except CrmError as exc:
            _failed(ctx, item.parsed, exc)
            result.waiting += 1
            failing = True
            done.append(Done(item.message.uid, item.key, None))
    return done


def _failed(ctx: Context, parsed: Parsed | None, exc: CrmError,
            event: str = "intake.crm_failed") -> None:
    log.warning(event, crm=ctx.crm, format=_name(parsed) if parsed else None,
                error_type=type(exc).__name__, http_status=exc.status)


def _triage(ctx: Context, intake: EmailIntake, message: Fetched,
            result: IntakeResult) -> Done | tuple[Fetched, str, Parsed]:
    """A known message is filed where the first copy went; a message no format takes (or
    without email and phone) goes to review; the rest need CRM work."""
    table = intake.mailbox
    try:
        parsed_message = read(message.raw)
        key = message_key(parsed_message, message.raw)
    except Exception:  # unreadable as MIME: keyed by its bytes
        key = hashlib.sha256(b"raw:" + message.raw).hexdigest()
        return _review(ctx, intake, message, key, Parsed(None, "unreadable"), result)
    with ctx.store.unit_of_work(read_only=True) as uow:
        known = uow.intake.get(key)
    if known is not None and known.state in (PROCESSED, RECORDED):
        result.duplicates += 1  # a redelivered copy (or one whose move was lost)
        return Done(message.uid, key, table.processed_folder)
    if known is not None and known.state == REVIEW:
        return Done(message.uid, key, table.review_folder)
    parsed = parse(message.raw, intake.formats, message=parsed_message)
    if parsed.reason is not None:
        return _review(ctx, intake, message, key, parsed, result)
    return message, key, parsed


def _intents(ctx: Context, pending: list[tuple[Fetched, str, Parsed]]) -> list[_Work]:
    """The intents, committed before any CRM call (one transaction for the chunk)."""
    if not pending:
        return []
    now = ctx.clock()
    out: list[_Work] = []
    with ctx.store.unit_of_work() as uow:
        for message, key, parsed in pending:
            assert parsed.format is not None
            uow.intake.begin(key, INTENT, message.internaldate, now, format=parsed.format.name)
            row = uow.intake.get(key)
            assert row is not None
            out.append(_Work(message, key, parsed, row))
        uow.commit()
    return out


class _Made:
    """Records created in this chunk, so a second message of the same person finds them."""

    def __init__(self) -> None:
        self.leads: list[tuple[str | None, str | None, CrmLead]] = []

    def add(self, email: str | None, phone: str | None, lead: CrmLead) -> None:
        self.leads.append((email, phone, lead))

    def of(self, email: str | None, phone: str | None) -> list[CrmLead]:
        return [lead for e, p, lead in self.leads
                if (email and e == email) or (phone and p == phone)]


def _name(parsed: Parsed | None) -> str | None:
    return parsed.format.name if parsed is not None and parsed.format is not None else None


def _review(ctx: Context, intake: EmailIntake, message: Fetched, key: str, parsed: Parsed,
            result: IntakeResult) -> Done:
    reason = parsed.reason or "unreadable"
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        if not uow.intake.begin(key, REVIEW, message.internaldate, now, format=_name(parsed),
                                reason=reason):
            uow.intake.update(key, now, state=REVIEW, reason=reason)
        uow.commit()
    result.review += 1
    # the format and the labels it missed (config text), never a value
    log.info("intake.review", reason=reason, format=_name(parsed),
             labels=list(parsed.missing) or None)
    return Done(message.uid, key, intake.mailbox.review_folder)


def _one(ctx: Context, intake: EmailIntake, item: _Work, matches: ContactMatches,
         made: _Made, result: IntakeResult) -> Done:
    parsed = item.parsed
    assert parsed.format is not None
    properties = dict(parsed.properties)
    if parsed.format.source and intake.source_property:
        properties[intake.source_property] = parsed.format.source
    if intake.mailbox.ref_property:  # the message's key, to find the record by it
        properties[intake.mailbox.ref_property] = item.key
    found = matches.of(parsed.email, parsed.phone)
    found += [r for r in made.of(parsed.email, parsed.phone) if r not in found]
    tried = item.row.attempts  # creates sent for it before (their answers never recorded)
    # a retry: the record carrying its key, or one made since the intent, is the one our
    # lost answer created
    ours = list(matches.by_ref.get(item.key, ())) or [
        r for r in found if tried and r.created_at >= item.row.intent_at - OWN_RECORD_SKEW]
    if ours:
        lead, outcome = ours[0], "created"
    elif found:
        lead, outcome = found[0], "existing"
    elif tried >= MAX_ATTEMPTS:  # the CRM answers lookups but never takes this one
        return _review(ctx, intake, item.message, item.key,
                       Parsed(parsed.format, "crm_failing"), result)
    else:
        with ctx.store.unit_of_work() as uow:  # counted before it is sent: a crash counts
            uow.intake.tried(item.key, ctx.clock())
            uow.commit()
        created = ctx.connector.create_lead(properties)
        if created.created:
            lead = CrmLead(created.crm_id, item.message.internaldate, None, True,
                           {attr: properties[prop] for attr, prop in ctx.config.fields.items()
                            if prop in properties})
            outcome = "created"
            made.add(parsed.email, parsed.phone, lead)
        else:  # the CRM named a record that holds the email: that one, as it is now
            again = ctx.connector.fetch([created.crm_id])
            if not again:
                raise FatalError("intake: the duplicate the CRM named cannot be read")
            lead, outcome = again[0], "existing"
    return _record(ctx, item.message, item.key, parsed, lead, outcome, result)


def _record(ctx: Context, message: Fetched, key: str, parsed: Parsed, lead: CrmLead,
            outcome: str, result: IntakeResult) -> Done:
    assert parsed.format is not None
    intake = ctx.config.intake
    assert intake is not None
    now = ctx.clock()
    facts = {"via": "email", "format": parsed.format.name,
             "received_at": message.internaldate.isoformat(), "intake": outcome}
    with ctx.store.unit_of_work() as uow:
        owned = outcome == "existing" and not lead.eligible
        attributes = routing_attributes(lead.attributes, ctx.config)
        if not owned:
            attributes[ARRIVED_BY] = EMAIL  # its SLA runs from the arrival (intake/clock.py)
        arrived = arrive(uow, ctx, lead.crm_id, message.internaldate, attributes, now,
                         facts={**facts, "crm_owner": lead.owner_id, "eligible": not owned})
        if owned:
            if arrived is not None:
                transition(uow, ctx, lead.crm_id, LeadEvent.SKIPPED, now,
                           crm_owner_id=lead.owner_id,
                           facts={"why": "owned by a person: a follow-up task for the new "
                                         "inquiry"})
            uow.outbox.enqueue(
                follow_up_key(key), ctx.crm, lead.crm_id, OutboxKind.TASK,
                TaskPayload(str(lead.owner_id), FOLLOW_UP_SUBJECT,
                            message.internaldate + FOLLOW_UP_DUE, "HIGH",
                            coordinator=ctx.directory.coordinator_of.get(
                                str(lead.owner_id))).to_json(), now=now)
            outcome = "follow_up"
        elif arrived is None:
            _reevaluate(uow, ctx, lead, attributes, now)
        uow.intake.update(key, now, state=RECORDED, crm=ctx.crm, crm_id=lead.crm_id,
                          outcome=outcome)
        uow.commit()
    if outcome == "created":
        result.created += 1
    elif outcome == "follow_up":
        result.follow_ups += 1
    else:
        result.existing += 1
    return Done(message.uid, key, intake.mailbox.processed_folder)


def _reevaluate(uow: UnitOfWork, ctx: Context, lead: CrmLead, attributes: dict[str, str],
                now: datetime) -> None:
    """A known lead left aside (skipped, set aside) that is unowned now: route it again."""
    row = uow.leads.get(ctx.crm, lead.crm_id)
    if row is not None and row.status in _LEFT_ASIDE and lead.eligible:
        transition(uow, ctx, lead.crm_id, LeadEvent.REEVALUATED, now, attributes=attributes,
                   crm_owner_id=lead.owner_id,
                   facts={"was": row.status, "why": "a new inquiry by email"})
