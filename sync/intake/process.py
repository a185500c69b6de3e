"""The intake step: new messages of the mailbox become routed CRM records, exactly once.

Per message, keyed by a hash of its Message-ID (`parse.message_key`):
1. a known key: a redelivered copy (or a message whose move was lost) is moved to where
   the first one went; nothing new is made;
2. a message no format takes, or without email and phone: recorded as `review` with the
   reason, moved to the review folder untouched;
3. otherwise the intent is committed first (and each create is counted before it is
   sent); then the CRM is asked, in one batched lookup per chunk, for records with those
   emails or phones. After a create whose answer was lost (a timeout, a crash), a record
   created since the intent is ours. None: the record is created (one call per message,
   never repeated blindly). One that existed: routed when unowned, or its owner gets a
   follow-up task through the outbox. The lead and the message's row commit together.
4. the chunk's leads are routed (`route`), and only then are the messages moved to the
   processed folder and the UID mark advanced.
A crash anywhere leaves the message in the folder; the next poll repeats only what is
missing. Message bodies, addresses and subjects are never stored or logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from state.repos.intake import PROCESSED, RECORDED
from sync.config.intake import EmailIntake
from sync.context import Context
from sync.intake.mailbox import Mailbox
from sync.intake.work import Done, IntakeResult, handle_chunk
from sync.logs import get_logger

__all__ = ["IntakeResult", "run_intake"]

log = get_logger("leadrouter.intake")
MAILBOX = "email"  # the mailbox's name in the store (one [intake.email] per portal)
CHUNK = 25  # messages looked up, routed and moved together


Route = Callable[[Context], Any]


def run_intake(ctx: Context, route: Route, *,
               environ: Mapping[str, str] | None = None) -> IntakeResult:
    """Read new messages of `[intake.email] folder` and handle them (see the module)."""
    intake = ctx.config.intake
    result = IntakeResult()
    if intake is None:
        return result
    table = intake.mailbox
    with Mailbox(table, os.environ if environ is None else environ) as box:
        box.ensure_folders([table.processed_folder, table.review_folder])
        validity = box.select(table.folder)
        with ctx.store.unit_of_work(read_only=True) as uow:
            mark = uow.intake.folder(MAILBOX, table.folder)
        last = mark[1] if mark is not None and mark[0] == validity else 0
        if mark is not None and mark[0] != validity:
            log.warning("intake.uidvalidity_changed", folder=table.folder)
        uids = box.uids_after(last)[:table.batch]
        for start in range(0, len(uids), CHUNK):
            fetched = box.fetch(uids[start:start + CHUNK])
            result.read += len(fetched)
            done = handle_chunk(ctx, intake, fetched, result)
            if any(d.folder == table.processed_folder for d in done):
                route(ctx)  # the routing decisions commit before any message moves
            last = _file(ctx, box, intake, done, last, validity)
            if any(d.folder is None for d in done):
                break  # the CRM is failing: the rest waits for the next poll
        if not uids and (mark is None or mark[0] != validity):
            with ctx.store.unit_of_work() as uow:
                uow.intake.set_folder(MAILBOX, table.folder, validity, last, ctx.clock())
                uow.commit()
    if result.read:
        log.info("intake.polled", count=result.read, created=result.created,
                 routed=result.existing or None, pending=result.waiting or None,
                 skipped=result.duplicates or None, failed=result.review or None)
    return result


def _file(ctx: Context, box: Mailbox, intake: EmailIntake, done: list[Done], last: int,
          validity: int) -> int:
    """Move the chunk's messages, then record it: the UID mark moves up to the first
    message that stays."""
    table = intake.mailbox
    for folder in (table.processed_folder, table.review_folder):
        box.move([d.uid for d in done if d.folder == folder], folder)
    now = ctx.clock()
    with ctx.store.unit_of_work() as uow:
        for d in done:
            if d.folder == table.processed_folder:
                row = uow.intake.get(d.key)
                if row is not None and row.state == RECORDED:
                    uow.intake.update(d.key, now, state=PROCESSED)
        for d in sorted(done, key=lambda d: d.uid):
            if d.folder is None:
                break
            last = max(last, d.uid)
        uow.intake.set_folder(MAILBOX, table.folder, validity, last, now)
        uow.commit()
    return last


