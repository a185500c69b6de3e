"""The client's rolling window: a call in flight holds its slot, and the slot frees one
window after the answer, so the server (which counts arrivals) never sees more than the
limit in any window."""

from __future__ import annotations

import pytest

from connectors.ratelimit import RollingWindow


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.on_sleep: list[tuple[float, RollingWindow, int]] = []  # (at, window, slot)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        for at, window, slot in list(self.on_sleep):
            if self.now >= at:  # an answer arrives while the caller waits
                window.release(slot)
                self.on_sleep.remove((at, window, slot))


def test_a_slot_frees_one_window_after_the_answer_not_after_the_send() -> None:
    time = FakeTime()
    window = RollingWindow(2, 1.0, clock=time.clock, sleep=time.sleep)
    first, _ = window.take()
    second, _ = window.take()
    time.now += 0.3  # both answered 0.3 s after they were sent
    window.release(first)
    window.release(second)
    _, waited = window.take()
    assert waited == pytest.approx(1.0, abs=0.06)  # 1.3 s after the send, not 1.0
    assert time.now == pytest.approx(101.3, abs=0.06)


def test_calls_in_flight_hold_their_slots_until_answered() -> None:
    time = FakeTime()
    window = RollingWindow(1, 1.0, clock=time.clock, sleep=time.sleep)
    slot, _ = window.take()
    time.on_sleep.append((102.0, window, slot))  # a slow answer: 2 s
    _, waited = window.take()
    assert time.now == pytest.approx(103.0, abs=0.06)  # answer + a whole window
    assert waited == pytest.approx(3.0, abs=0.06)


def test_the_full_rate_is_used_and_never_exceeded() -> None:
    time = FakeTime()
    window = RollingWindow(5, 1.0, clock=time.clock, sleep=time.sleep)
    sent: list[float] = []
    for _ in range(20):
        with window.slot():
            sent.append(time.now)
            time.now += 0.03  # latency
    for i in range(len(sent) - 5):
        assert sent[i + 5] - (sent[i] + 0.03) >= 1.0 - 1e-9  # never 6 in a window
    assert sent[-1] - sent[0] < 4 * 1.03 + 0.2  # and not much slower than the limit


def test_retry_after_pauses_everyone() -> None:
    time = FakeTime()
    window = RollingWindow(5, 1.0, clock=time.clock, sleep=time.sleep)
    window.pause_for(2.0)
    assert window.acquire() == pytest.approx(2.0, abs=0.06)
