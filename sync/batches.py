"""One record the CRM refuses never fails the records sent with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from connectors.base import FatalError

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
