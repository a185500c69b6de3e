"""One record the CRM refuses never fails the records sent with it; one lead the store cannot
take never fails the batch it came in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from connectors.base import FatalError
from state import StoreUnavailable, UnitOfWork
from sync.logs import get_logger

log = get_logger("leadrouter.batches")

T = TypeVar("T")
R = TypeVar("R")


def split_on_refusal(call: Callable[[Sequence[T]], Sequence[R]], items: Sequence[T],
                     refused: Callable[[T, FatalError], R]) -> list[R]:
    """`call(items)`; when the CRM refuses the batch as a whole (a 4xx other than auth:
    nothing was applied, so resending part of it is safe), halve it until the item at fault
    stands alone and is answered by `refused`. One bad record among 100 costs about
    2 x log2(100) = 14 extra calls, once."""
    try:
        return list(call(items))
    except FatalError as exc:
        if len(items) <= 1:
            return [refused(item, exc) for item in items]
        middle = len(items) // 2
        return (split_on_refusal(call, items[:middle], refused)
                + split_on_refusal(call, items[middle:], refused))


def all_at_once(uow: UnitOfWork, work: Callable[[], object], *, what: str, crm: str,
                count: int) -> bool:
    """`work()` (a batch written in a few statements) in a savepoint: True when it went
    through; False, undone and logged as `what`, when it raised, for the caller to do the
    same one item at a time (each alone, so one bad item is set aside and the rest go on).
    A store that is gone is not the batch's fault: raised."""
    try:
        with uow.savepoint():
            work()
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.warning(what, crm=crm, count=count, error_type=type(exc).__name__)
        return False
    return True
