"""Once per state store: reduce what earlier versions stored verbatim to the vocabulary.

Before attributes were reduced to what rules compare, a routing attribute holding free text
("Jane Roe jane.roe@example.org") was stored as it was and echoed in the skipped-rule steps
of the audit trail. This pass rewrites both, in batches, and records that it ran (a cursor
row), so a store upgraded in place keeps nothing a rule could not compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from state import UnitOfWork
from sync.context import Context
from sync.logs import get_logger
from sync.routing_input import vocabulary_of
from sync.vocabulary import OTHER, Vocabulary

log = get_logger("leadrouter.scrub")
DONE = "scrub:attributes:v1"
BATCH = 1000
# `insurance='...'` in a skipped-rule step: the value may be anything the lead carried
_ECHOED = re.compile(r"(?P<attribute>[A-Za-z0-9_\-]+)=(?P<value>'(?:[^'\\]|\\.)*'"
                     r"|\"(?:[^\"\\]|\\.)*\")")


def _step_text(text: str, vocabulary: Vocabulary) -> str:
    def replace(match: re.Match[str]) -> str:
        attribute, quoted = match.group("attribute"), match.group("value")
        kept = vocabulary.keep(attribute, quoted[1:-1])
        return f"{attribute}={(kept or OTHER)!r}"
    return _ECHOED.sub(replace, text)


def _detail(detail: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any] | None:
    steps = detail.get("steps")
    if not isinstance(steps, list):
        return None
    cleaned = [{**step, "detail": _step_text(str(step.get("detail") or ""), vocabulary)}
               if isinstance(step, dict) else step for step in steps]
    return None if cleaned == steps else {**detail, "steps": cleaned}


def scrub_store(ctx: Context) -> int:
    """Rewrite stored attributes and echoed step values; rows changed (0 once done)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        if uow.cursors.get(DONE) is not None:
            return 0
    vocabulary = vocabulary_of(ctx.config)
    changed = _scrub_leads(ctx, vocabulary) + _scrub_audit(ctx, vocabulary)
    with ctx.store.unit_of_work() as uow:
        uow.cursors.set(DONE, str(changed), now=ctx.clock())
        uow.commit()
    if changed:
        log.info("store.scrubbed", count=changed)
    return changed


def _scrub_leads(ctx: Context, vocabulary: Vocabulary) -> int:
    return _rewrite(ctx, lambda uow, last: uow.leads.attribute_batch(last, BATCH),
                    lambda attributes: _changed(vocabulary.clean(attributes), attributes),
                    lambda uow, row_id, clean: uow.leads.replace_attributes(row_id, clean))


def _scrub_audit(ctx: Context, vocabulary: Vocabulary) -> int:
    return _rewrite(ctx, lambda uow, last: uow.audit.detail_batch(last, BATCH),
                    lambda detail: _detail(detail, vocabulary),
                    lambda uow, row_id, clean: uow.audit.replace_detail(row_id, clean))


def _changed(clean: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any] | None:
    return None if clean == stored else clean


Batch = list[tuple[int, dict[str, Any]]]


def _rewrite(ctx: Context, read: Callable[[UnitOfWork, int], Batch],
             clean: Callable[[dict[str, Any]], dict[str, Any] | None],
             write: Callable[[UnitOfWork, int, dict[str, Any]], None]) -> int:
    """Walk a table in id order, a batch per transaction; write back what `clean` changes."""
    changed, last = 0, 0
    while True:
        with ctx.store.unit_of_work() as uow:
            batch = read(uow, last)
            for row_id, value in batch:
                cleaned = clean(value)
                if cleaned is not None:
                    write(uow, row_id, cleaned)
                    changed += 1
            uow.commit()
        if len(batch) < BATCH:
            return changed
        last = batch[-1][0]
