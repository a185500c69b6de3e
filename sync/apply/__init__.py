"""Apply: perform the outbox's CRM writes, outside any transaction, and record the outcome.

Owner writes first (`owners`), then the tasks whose owner is written (`tasks`); what they
share is in `common`.
"""

from __future__ import annotations

from sync.apply.common import MAX_ATTEMPTS, ApplyResult
from sync.apply.owners import apply_owners, mark_overridden
from sync.apply.tasks import apply_tasks
from sync.context import Context

__all__ = ["MAX_ATTEMPTS", "ApplyResult", "apply_owners", "apply_pending", "apply_tasks",
           "mark_overridden"]


def _progress(result: ApplyResult) -> int:
    return (result.owners_written + result.overridden + result.tasks_created
            + result.failed)


def apply_pending(ctx: Context, *, rounds: int | None = 20) -> ApplyResult:
    """Owner writes first, then the tasks whose owner is written; repeat while work is due
    (at most `rounds` times; None: until a round finds nothing due or gets nothing done,
    so tasks waiting on an owner write that is backing off do not spin)."""
    result = ApplyResult()
    done = 0
    while rounds is None or rounds > 0:
        busy = apply_owners(ctx, result)
        busy = apply_tasks(ctx, result) or busy
        if not busy or (rounds is None and _progress(result) == done):
            break
        done = _progress(result)
        if rounds is not None:
            rounds -= 1
    return result
