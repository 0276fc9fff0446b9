from __future__ import annotations

import asyncio

import pytest

from reconciler.zoom.pacer import Pacer, Probe


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


PROBE = Probe(start=20.0, ceiling=60.0, step=5.0, every=10, backoff=0.5, settle_seconds=100.0)


def accept(pacer: Pacer, time: FakeTime, count: int, limit: int | None = None) -> None:
    """`count` requests sent one slot apart at the pacer's rate, each accepted."""
    for _ in range(count):
        assert pacer.rate is not None
        time.now += 1.0 / pacer.rate
        pacer.observe(limit=limit, remaining=None)


async def test_a_probe_starts_low_and_climbs_a_step_every_n_accepted_requests() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    assert pacer.rate == 20.0
    accept(pacer, time, 9)
    assert pacer.rate == 20.0
    accept(pacer, time, 1)
    assert pacer.rate == 25.0
    accept(pacer, time, 30)
    assert pacer.rate == 40.0


async def test_a_probe_never_climbs_above_its_ceiling() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    accept(pacer, time, 1000)
    assert pacer.rate == 60.0


async def test_a_429_drops_the_probe_back_but_never_below_its_start_then_it_holds() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    await pacer.acquire()
    accept(pacer, time, 30)  # up to 35/s: 30 requests in 1.2 s, which proves only 13.4/s
    pacer.throttle(None, sent_at=time.now)
    assert pacer.rate == 20.0
    accept(pacer, time, 1990)  # 99.5 s at 20/s
    assert pacer.rate == 20.0  # settled: no probing for settle_seconds
    time.now += 0.5
    accept(pacer, time, 10)
    assert pacer.rate == 25.0  # then it probes again


async def test_a_429_halves_the_rate_when_that_stays_above_the_start() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    await pacer.acquire()
    accept(pacer, time, 1000)
    time.now += 100.0  # a slow stretch: 1000 requests in some 118 s prove only 8.5/s
    pacer.throttle(None, sent_at=time.now)
    assert pacer.rate == 30.0


async def test_a_429_keeps_the_rate_the_account_has_just_accepted() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    started = time.now
    await pacer.acquire()
    accept(pacer, time, 3540)
    elapsed = time.now - started
    pacer.throttle(None, sent_at=time.now)
    # The account took 3540 requests in `elapsed` s without a 429: at least 3540 / (elapsed + 1)
    # per second (the budget saved up before the run may have lent up to a second's worth).
    assert pacer.rate == pytest.approx(3540 / (elapsed + 1))
    assert pacer.rate > 57.0  # not halved to 30


async def test_429s_to_requests_sent_before_a_decrease_do_not_lower_the_rate_again() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    await pacer.acquire()
    accept(pacer, time, 1000)
    time.now += 100.0
    sent = time.now
    time.now += 0.01
    pacer.throttle(None, sent_at=sent)
    time.now += 0.01
    pacer.throttle(None, sent_at=sent)  # in flight when the first 429 came back
    assert pacer.rate == 30.0
    pacer.throttle(None, sent_at=time.now)  # sent after the decrease, and refused: again
    assert pacer.rate == 20.0


async def test_a_lower_server_limit_caps_the_probe_and_a_daily_figure_does_not() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    accept(pacer, time, 1000, limit=6000)
    assert pacer.rate == 60.0
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    accept(pacer, time, 1000, limit=20)
    assert pacer.rate == 20.0
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    accept(pacer, time, 1, limit=2)  # a Free account's limit: below the probe's start
    assert pacer.rate == 2.0


async def test_a_pinned_rate_never_probes() -> None:
    time = FakeTime()
    pacer = Pacer(20.0, clock=time.clock, sleep=time.sleep)
    accept(pacer, time, 1000)
    assert pacer.rate == 20.0
    assert pacer.probe is None
    pacer.throttle(None, sent_at=time.now)
    assert pacer.rate == 20.0


async def test_a_caller_asleep_on_its_slot_takes_a_new_one_after_a_429() -> None:
    time = FakeTime()
    pacer = Pacer(10.0, burst_seconds=0.0, clock=time.clock, sleep=time.sleep)
    assert await pacer.acquire() == 0.0
    real_sleep = time.sleep

    async def sleep_through_a_429(seconds: float) -> None:
        await real_sleep(seconds)
        if len(time.sleeps) == 1:
            pacer.throttle(2.0)  # another request's 429 while this one sleeps

    pacer._sleep = sleep_through_a_429
    # Slot at +0.1 s; during the sleep a 429 pauses everyone for 2 s: a new slot at +2.0 s.
    assert await pacer.acquire() == pytest.approx(0.1 + 2.0)
    assert time.sleeps == pytest.approx([0.1, 2.0])


async def test_only_a_quarter_seconds_worth_of_callers_hold_slots_so_a_new_rate_applies_soon() -> (
    None
):
    time = FakeTime()
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        time.sleeps.append(seconds)
        await gate.wait()

    probe = Probe(start=20.0, ceiling=60.0, step=40.0, every=1)
    pacer = Pacer(probe, burst_seconds=0.0, clock=time.clock, sleep=sleep)
    callers = [asyncio.create_task(pacer.acquire()) for _ in range(40)]
    await asyncio.sleep(0)
    # The first goes at once; 5 (20/s x 0.25 s) hold the next slots; the other 34 wait in line.
    assert time.sleeps == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])
    pacer.observe(limit=None, remaining=None)  # accepted: the probe steps up to 60/s
    await asyncio.sleep(0)
    # 15 may hold a slot now; the 10 let in take theirs at the new spacing, not behind 34 more.
    assert time.sleeps[5:] == pytest.approx([0.30 + n / 60 for n in range(10)])
    callers[-1].cancel()  # one gives up while in line: its place is not lost
    gate.set()
    done = await asyncio.gather(*callers, return_exceptions=True)
    assert sum(isinstance(result, asyncio.CancelledError) for result in done) == 1
    assert await asyncio.wait_for(pacer.acquire(), 1.0) >= 0.0


async def test_a_probe_proves_each_rate_held_for_a_whole_step_and_a_429_takes_it_back() -> None:
    time = FakeTime()
    pacer = Pacer(PROBE, clock=time.clock, sleep=time.sleep)
    await pacer.acquire()
    assert pacer.proven_rate is None  # nothing accepted yet
    accept(pacer, time, 10)
    assert (pacer.proven_rate, pacer.rate) == (20.0, 25.0)
    accept(pacer, time, 25)  # 25 and 30 proven; 35 tried for 5 requests only
    assert (pacer.proven_rate, pacer.rate) == (30.0, 35.0)
    pacer.throttle(None, sent_at=time.now)
    assert pacer.rate is not None and pacer.proven_rate == pacer.rate < 30.0


async def test_a_probe_resumes_at_a_rate_proven_before_and_still_never_drops_below_start() -> None:
    time = FakeTime()
    resumed = Probe(start=20.0, ceiling=60.0, step=5.0, every=10, resume=55.0)
    pacer = Pacer(resumed, clock=time.clock, sleep=time.sleep)
    assert pacer.rate == 55.0
    await pacer.acquire()
    pacer.throttle(None, sent_at=time.now)
    assert pacer.rate == 27.5
    with pytest.raises(ValueError, match=r"resumes between its start and ceiling, not 70\.0"):
        Probe(start=20.0, ceiling=60.0, resume=70.0)
