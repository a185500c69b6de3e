"""Once per state store: reduce what earlier versions stored verbatim to the vocabulary.

Before attributes were reduced to what rules compare, a routing attribute holding free text
("Jane Roe jane.roe@example.org") was stored as it was and echoed in the skipped-rule steps
of the audit trail. This pass rewrites both, in batches, and records that it ran (a cursor
row), so a store upgraded in place keeps nothing a rule could not compare.
"""

from __future__ import annotations

import re
from typing import Any

from sync.context import Context
from sync.leads import vocabulary_of
from sync.logs import get_logger
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
    changed, last = 0, 0
    while True:
        with ctx.store.unit_of_work() as uow:
            batch = uow.leads.attribute_batch(last, BATCH)
            for row_id, attributes in batch:
                clean = vocabulary.clean(attributes)
                if clean != attributes:
                    uow.leads.replace_attributes(row_id, clean)
                    changed += 1
            uow.commit()
        if len(batch) < BATCH:
            return changed
        last = batch[-1][0]


def _scrub_audit(ctx: Context, vocabulary: Vocabulary) -> int:
    changed, last = 0, 0
    while True:
        with ctx.store.unit_of_work() as uow:
            batch = uow.audit.detail_batch(last, BATCH)
            for row_id, detail in batch:
                cleaned = _detail(detail, vocabulary)
                if cleaned is not None:
                    uow.audit.replace_detail(row_id, cleaned)
                    changed += 1
            uow.commit()
        if len(batch) < BATCH:
            return changed
        last = batch[-1][0]
