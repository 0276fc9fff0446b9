from __future__ import annotations

import pytest

from reconciler.zoom.pacer import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def test_slots_are_spaced_at_the_rate_after_a_small_burst() -> None:
    time = FakeTime()
    pacer = Pacer(50.0, burst_seconds=0.1, clock=time.clock, sleep=time.sleep)
    waits = [await pacer.acquire() for _ in range(100)]
    # 0.1 s of burst = 5 requests at once, then one every 20 ms, all reserved at the same instant.
    assert waits[:6] == pytest.approx([0.0] * 6)
    assert waits[6] == pytest.approx(0.02)
    assert waits[99] == pytest.approx((99 - 5) * 0.02)
    assert pacer.waited_seconds == pytest.approx(sum(waits))


async def test_unpaced_never_waits() -> None:
    time = FakeTime()
    pacer = Pacer(None, clock=time.clock, sleep=time.sleep)
    assert [await pacer.acquire() for _ in range(1000)] == [0.0] * 1000
    assert time.sleeps == []


async def test_throttle_pauses_every_caller_for_retry_after() -> None:
    time = FakeTime()
    pacer = Pacer(60.0, clock=time.clock, sleep=time.sleep)
    pacer.throttle(2.0)
    assert await pacer.acquire() == pytest.approx(2.0)


async def test_throttle_without_retry_after_waits_a_few_slots() -> None:
    time = FakeTime()
    pacer = Pacer(20.0, burst_seconds=0.0, clock=time.clock, sleep=time.sleep)
    pacer.throttle(None)
    assert await pacer.acquire() == pytest.approx(3 / 20)


async def test_a_lower_server_limit_lowers_the_rate_and_a_higher_one_does_not_raise_it() -> None:
    pacer = Pacer(60.0)
    pacer.observe(limit=100, remaining=90)
    assert pacer.rate == 60.0
    pacer.observe(limit=20, remaining=19)
    assert pacer.rate == 20.0


async def test_unpaced_client_adopts_the_limit_zoom_reports() -> None:
    pacer = Pacer(None)
    pacer.observe(limit=30, remaining=29)
    assert pacer.rate == 30.0


async def test_spent_remaining_leaves_a_gap_of_one_slot() -> None:
    time = FakeTime()
    pacer = Pacer(10.0, burst_seconds=0.0, clock=time.clock, sleep=time.sleep)
    assert await pacer.acquire() == 0.0
    pacer.observe(limit=10, remaining=0)
    assert await pacer.acquire() == pytest.approx(0.2)
