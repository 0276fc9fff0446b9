"""Rate discovery: with no tier and no rate, the client starts at Pro's 20/s and probes for the
account's rate up to Business's 60/s.

First the pacer alone against the sandbox's own token bucket on a fake clock (one request at a
time, answered at once), then the whole client against the in-process sandbox with many requests
in flight, on a clock that runs ten times as fast as the wall clock for both sides.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.connect import Connector
from reconciler.sandbox import SandboxConfig, generate_tenant
from reconciler.sandbox.app import create_app
from reconciler.sandbox.config import BUSINESS_RATES, PRO_RATES
from reconciler.sandbox.ratelimit import RateLimiter
from reconciler.zoom import ZoomClient, get_settings, iter_users, map_concurrently
from reconciler.zoom.client import default_in_flight
from reconciler.zoom.config import DISCOVER
from reconciler.zoom.pacer import Pacer
from tests.zoom.test_client_against_sandbox import QUICK_RETRIES, in_process_client

# -- the pacer against a token bucket, on a fake clock ------------------------------------------


class SteppedTime:
    """A fake clock that sleeping moves forward."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def run_against_bucket(
    pacer: Pacer, clock: SteppedTime, limit: float, requests: int, *, header: int | None = None
) -> int:
    """Send `requests` one at a time through the pacer into a bucket of `limit`/s; 429s seen.

    `header`: the X-RateLimit-Limit each accepted answer carries (None: no such header).
    """
    bucket = RateLimiter(clock.clock)
    throttled = 0
    for _ in range(requests):
        while True:
            await pacer.acquire()
            sent_at = clock.now
            if bucket.check("account", "MEDIUM", limit, None).refused is None:
                pacer.observe(header, None)
                break
            throttled += 1
            pacer.throttle(None, sent_at=sent_at)
    return throttled


async def test_the_probe_climbs_to_60_on_a_60_per_second_account_without_a_429() -> None:
    clock = SteppedTime()
    pacer = Pacer(DISCOVER, clock=clock.clock, sleep=clock.sleep)
    started = clock.now
    throttled = await run_against_bucket(pacer, clock, 60.0, 3600)
    assert (pacer.rate, throttled) == (60.0, 0)
    # The climb from 20/s costs a little over a second against the 60 s floor.
    assert clock.now - started < 3600 / 60.0 + 2.0


async def test_the_probe_settles_at_20_on_a_20_per_second_account_after_a_429_or_two() -> None:
    clock = SteppedTime()
    pacer = Pacer(DISCOVER, clock=clock.clock, sleep=clock.sleep)
    started = clock.now
    throttled = await run_against_bucket(pacer, clock, 20.0, 3600)
    assert pacer.rate == 20.0
    assert 1 <= throttled <= 3
    assert clock.now - started < 3600 / 20.0 + 1.0


async def test_after_settling_the_probe_tries_again_now_and_then_at_a_small_cost() -> None:
    clock = SteppedTime()
    pacer = Pacer(DISCOVER, clock=clock.clock, sleep=clock.sleep)
    throttled = await run_against_bucket(pacer, clock, 20.0, 40_000)  # 2000 s: 6 settle periods
    assert pacer.rate is not None and pacer.rate <= 25.0
    assert throttled <= 7 * 3


async def test_a_per_second_limit_header_stops_the_probe_at_once() -> None:
    clock = SteppedTime()
    pacer = Pacer(DISCOVER, clock=clock.clock, sleep=clock.sleep)
    assert await run_against_bucket(pacer, clock, 20.0, 2000, header=20) == 0
    assert pacer.rate == 20.0


async def test_a_daily_figure_in_the_limit_header_does_not_raise_the_rate() -> None:
    clock = SteppedTime()
    pacer = Pacer(DISCOVER, clock=clock.clock, sleep=clock.sleep)
    throttled = await run_against_bucket(pacer, clock, 60.0, 2000, header=6000)
    assert (pacer.rate, throttled) == (60.0, 0)


async def test_a_pinned_rate_stays_where_it_is() -> None:
    clock = SteppedTime()
    pacer = Pacer(20.0, clock=clock.clock, sleep=clock.sleep)
    assert await run_against_bucket(pacer, clock, 60.0, 2000) == 0
    assert pacer.rate == 20.0


# -- the client against the in-process sandbox --------------------------------------------------

SPEED = 10.0


class FastTime:
    """Seconds since the epoch, running SPEED times as fast as the wall clock; sleeps to match."""

    def __init__(self) -> None:
        self._wall, self._mono = time.time(), time.monotonic()

    def clock(self) -> float:
        return self._wall + (time.monotonic() - self._mono) * SPEED

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED)


def daily_figures(app: Any) -> Any:
    """The app with Zoom's real habit: X-RateLimit-Limit/Remaining carry daily figures."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def send_daily(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if b"x-ratelimit" not in k]
                headers += [(b"x-ratelimit-limit", b"6000"), (b"x-ratelimit-remaining", b"5000")]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_daily)

    return wrapped


async def read_through(
    medium: float, requests: int, *, daily: bool = False
) -> tuple[ZoomClient, int]:
    """`requests` settings reads with no tier or rate against a sandbox whose MEDIUM limit is
    `medium`/s (10 ms of latency, 100 ms on the sandbox's clock); the client and its 429 count."""
    fast = FastTime()
    limits = dict(BUSINESS_RATES if medium == 60.0 else PRO_RATES)
    assert limits["MEDIUM"] == medium
    app = create_app(
        SandboxConfig(rate_limits=limits, latency_ms=10.0),
        generate_tenant(users=60, groups=2, seed=5),
        clock=fast.clock,
    )
    served = daily_figures(app) if daily else app
    zoom = in_process_client(
        served, rate=DISCOVER, retry=QUICK_RETRIES, clock=fast.clock, sleep=fast.sleep
    )
    async with zoom:
        ids = [user["id"] async for user in iter_users(zoom, status="active")]
        reads = [ids[i % len(ids)] for i in range(requests)]
        async for outcome in map_concurrently(
            lambda user_id: get_settings(zoom, "user", user_id, "general"),
            reads,
            workers=default_in_flight(DISCOVER),
        ):
            assert outcome.error is None
    return zoom, zoom.counters.throttled


@pytest.mark.parametrize("daily", [False, True], ids=["per-second-header", "daily-header"])
async def test_the_client_climbs_to_near_60_on_a_60_per_second_sandbox(daily: bool) -> None:
    zoom, throttled = await read_through(60.0, 900, daily=daily)
    assert zoom.rate is not None and zoom.rate >= 55.0
    assert throttled <= 4


async def test_the_client_stays_at_20_on_a_20_per_second_sandbox_that_says_so() -> None:
    zoom, throttled = await read_through(20.0, 400)
    assert (zoom.rate, throttled) == (20.0, 0)


async def test_the_client_settles_near_20_on_a_20_per_second_sandbox_with_daily_figures() -> None:
    zoom, throttled = await read_through(20.0, 400, daily=True)
    assert zoom.rate is not None and 20.0 <= zoom.rate <= 25.0
    assert 1 <= throttled <= 8  # the climb overshoots once, then it holds


# -- how a command asks for it -----------------------------------------------------------------


async def test_no_tier_means_probe_and_a_tier_or_rate_pins_the_rate(tmp_path: Path) -> None:
    connector = Connector(sandbox=True)
    async with connector.open(tmp_path, tier=None) as session:
        assert (session.zoom.probe, session.zoom.rate, session.workers) == (DISCOVER, 20.0, 60)
    async with connector.open(tmp_path, tier="pro") as session:
        assert (session.zoom.probe, session.zoom.rate) == (None, 20.0)
    async with connector.open(tmp_path, tier=None, rate=45.0) as session:
        assert (session.zoom.probe, session.zoom.rate) == (None, 45.0)
