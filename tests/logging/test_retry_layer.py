"""The one retry layer: bounded, honours Retry-After, sleeps through an injected function."""

from __future__ import annotations

import pytest

from connectors.base import FatalError, RetriableError
from connectors.retry import RetryPolicy


def flaky(failures: list[Exception]) -> object:
    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"
    return call


def test_retriable_errors_are_retried_and_retry_after_is_honoured() -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, initial=0.1, maximum=30, sleep=slept.append)
    call = flaky([RetriableError("503", status=503), RetriableError("429", status=429,
                                                                     retry_after=7)])
    assert policy.call("x", call) == "ok"  # type: ignore[arg-type]
    assert len(slept) == 2 and slept[1] >= 7


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, sleep=slept.append)
    call = flaky([RetriableError(str(n), status=503) for n in range(5)])
    with pytest.raises(RetriableError, match="2"):
        policy.call("x", call)  # type: ignore[arg-type]
    assert len(slept) == 2


def test_fatal_errors_are_not_retried() -> None:
    slept: list[float] = []
    policy = RetryPolicy(sleep=slept.append)
    with pytest.raises(FatalError):
        policy.call("x", flaky([FatalError("400", status=400)]))  # type: ignore[arg-type]
    assert slept == []


def test_a_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    slept: list[float] = []
    policy = RetryPolicy(maximum=30, sleep=slept.append)
    with pytest.raises(RetriableError):
        policy.call("x", flaky([RetriableError("429", status=429, retry_after=3600)]))  # type: ignore[arg-type]
    assert slept == []
