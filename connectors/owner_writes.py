"""Compare before write, written once for every connector: never fight a person.

Before an owner is written, the CRM's owner right now decides: ours already (nothing to do
unless metadata goes with it), one we may replace (none, a placeholder, our own earlier
assignment), or someone a person chose (leave it: overridden).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from connectors.base import OwnerWrite, OwnerWriteResult, WriteOutcome


def _as_is(owner: str | None) -> str | None:
    return owner


def compare_before_write(
    writes: Sequence[OwnerWrite],
    current: Mapping[str, str | None],
    *,
    unowned_form: Callable[[str | None], str | None] = _as_is,
) -> tuple[list[OwnerWrite], list[OwnerWriteResult]]:
    """(writes still to send, results already known) against `current`: record id -> its
    owner now; a record missing from it no longer exists. `unowned_form` maps a CRM's own
    "nobody" (a Salesforce queue) to None, which every write may replace."""
    to_write: list[OwnerWrite] = []
    known: list[OwnerWriteResult] = []
    for write in writes:
        if write.crm_id not in current:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.MISSING))
            continue
        now_owner = current[write.crm_id]
        if now_owner == write.owner_id and not write.properties:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.ALREADY, now_owner))
        elif (now_owner == write.owner_id or now_owner in write.replaceable
              or unowned_form(now_owner) in write.replaceable):
            to_write.append(write)
        else:
            known.append(OwnerWriteResult(write.crm_id, WriteOutcome.OVERRIDDEN, now_owner))
    return to_write, known
