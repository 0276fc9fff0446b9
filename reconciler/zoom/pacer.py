"""One pacer per account: spaces requests at the account's rate, shared by every in-flight request.

It schedules each request into a time slot (a generic cell rate algorithm): no background task,
just a running "next free slot" that every caller advances by 1/rate. A small burst allowance lets
the first requests go at once. Only a quarter second's worth of callers hold a future slot; the
others wait in line for a place, so that a new rate applies at once. Zoom's headers feed back
into it: a lower `X-RateLimit-Limit` than configured lowers the rate, a nearly spent
`X-RateLimit-Remaining` (someone else using the same account) slows us down, and a 429 pauses
every caller, including those already asleep on a slot (they take a new one after the pause).

When nothing pins the rate (no tier, no explicit rate) the pacer probes for it (`Probe`): it
starts at the lowest paid plan's rate, adds a step every so many accepted requests, and on a
per-second 429 drops back (multiplicatively, but never below the start nor below the rate the
account just accepted) and holds there for a while. Zoom's `X-RateLimit-Limit` is not a reliable
per-second figure (real answers carry daily figures), so it only ever lowers the rate or the
probe's ceiling, never raises them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Without a Retry-After and without a known rate, wait a whole second (Zoom's window).
UNKNOWN_RATE_THROTTLE_PAUSE = 1.0
# With a known rate, a 429 mostly means a burst arrived early: wait for a few slots to refill.
THROTTLE_SLOTS = 3
# Slots are reserved at most this far ahead (at the current rate): see `Pacer._most_reserved`.
RESERVE_SECONDS = 0.25
# Zoom counts per second: a run without a 429 may have spent up to a second's worth of budget
# that was saved up before it, so it proves only requests / (seconds + 1) per second.
ZOOM_WINDOW_SECONDS = 1.0

WaitKind = Literal["throttled", "slow_answer", "backoff"]


@dataclass(frozen=True)
class WaitEvent:
    """A long wait the client is in, for progress lines: on what, for how long, for which request.

    `throttled`: every request pauses `seconds` after a per-second 429. `slow_answer`: this request
    has been outstanding `seconds` without an answer (reported once, while it still is).
    `backoff`: this request waits `seconds` before a retry; `reason` says what failed.
    """

    kind: WaitKind
    seconds: float
    method: str
    path: str
    reason: str = ""


@dataclass(frozen=True)
class Probe:
    """How to find a rate nothing pins: start low, climb while Zoom accepts, back off on a 429."""

    start: float  # the lowest rate probed: a 429 never takes the rate below it
    ceiling: float  # the highest rate any plan allows
    resume: float | None = None  # requests/s to begin with (a rate proven before), else start
    step: float = 5.0  # requests/s added ...
    every: int = 15  # ... after this many accepted requests since the last step
    backoff: float = 0.5  # the rate is multiplied by this on a per-second 429 ...
    settle_seconds: float = 300.0  # ... and holds for this long before probing again

    def __post_init__(self) -> None:
        if not 0 < self.start <= self.ceiling:
            raise ValueError(
                f"a probe needs 0 < start <= ceiling, got {self.start}, {self.ceiling}"
            )
        if self.resume is not None and not self.start <= self.resume <= self.ceiling:
            raise ValueError(f"a probe resumes between its start and ceiling, not {self.resume}")

    @property
    def first_rate(self) -> float:
        return self.start if self.resume is None else self.resume


class _Probing:
    """Where a probe stands, and what the account has accepted since its last 429."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.floor = probe.start
        self.ceiling = probe.ceiling
        self.clean_since: float | None = None  # when the current run without a 429 began
        self.accepted = 0  # requests accepted since then
        self.since_step = 0
        self.settled_until = -math.inf
        self.lowered_at = -math.inf
        # The highest rate the account accepted for a whole step without a 429 since (what a
        # later run may resume at); None until one step has passed.
        self.proven: float | None = None

    def raised(self, rate: float, now: float) -> float:
        """The rate after one more accepted request."""
        self.accepted += 1
        self.since_step += 1
        if self.since_step < self.probe.every:
            return rate
        self.proven = rate if self.proven is None else max(self.proven, rate)
        if now < self.settled_until:
            return rate
        self.since_step = 0
        return min(self.ceiling, rate + self.probe.step)

    def lowered(self, rate: float, now: float, sent_at: float | None) -> float:
        """The rate after a per-second 429 to a request sent at `sent_at`."""
        if sent_at is not None and sent_at < self.lowered_at:
            return rate  # sent before the last decrease: that one has answered it already
        started = now if self.clean_since is None else self.clean_since
        held = self.accepted / (now - started + ZOOM_WINDOW_SECONDS)
        self.clean_since, self.accepted, self.since_step = now, 0, 0
        self.lowered_at = now
        self.settled_until = now + self.probe.settle_seconds
        lowered = min(rate, max(self.floor, held, rate * self.probe.backoff))
        if self.proven is not None:
            self.proven = min(self.proven, lowered)
        return lowered

    def cap(self, limit: float) -> None:
        """Zoom said the limit is `limit`: never probe above it, nor insist on a floor above it."""
        self.ceiling = min(self.ceiling, limit)
        self.floor = min(self.floor, limit)
        if self.proven is not None:
            self.proven = min(self.proven, limit)


class Pacer:
    def __init__(
        self,
        rate: float | Probe | None,
        *,
        burst_seconds: float = 0.1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._probing = _Probing(rate) if isinstance(rate, Probe) else None
        self.rate = rate.first_rate if isinstance(rate, Probe) else rate
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._sleep = sleep
        self._next_slot = clock() - burst_seconds
        self._paused_until = 0.0
        # Bumped by every 429: a caller asleep on a slot from before it takes a new slot.
        self._pauses = 0
        self._reserved = 0  # callers holding a slot they have not reached yet
        self._line: deque[asyncio.Future[None]] = deque()  # callers waiting to reserve one
        self.waited_seconds = 0.0

    @property
    def probe(self) -> Probe | None:
        """The probe looking for the rate, or None when the rate is pinned (or unpaced)."""
        return self._probing.probe if self._probing else None

    @property
    def proven_rate(self) -> float | None:
        """The highest rate a probe saw accepted for a whole step and not refused since: the
        rate the next run for this account can start at. None when not probing or too early."""
        return self._probing.proven if self._probing else None

    async def acquire(self) -> float:
        """Wait for this request's slot; return how long it waited."""
        queued_at = self._clock()
        if self._line or self._reserved >= self._most_reserved():
            await self._wait_in_line()
        else:
            self._reserved += 1
        try:
            waited = self._clock() - queued_at + await self._sleep_until_slot()
        finally:
            self._reserved -= 1
            self._admit()
        self.waited_seconds += waited
        return waited

    def _most_reserved(self) -> float:
        """How many callers may hold a future slot at once: a quarter second's worth, so that a
        new rate (or a pause) applies within a quarter second; the others wait in line."""
        return math.inf if self.rate is None else max(1.0, self.rate * RESERVE_SECONDS)

    async def _wait_in_line(self) -> None:
        """Wait until `_admit` hands this caller a place among those holding a slot."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._reserved -= 1  # admitted as it was cancelled: pass the place on
                self._admit()
            raise

    def _admit(self) -> None:
        while self._line and self._reserved < self._most_reserved():
            turn = self._line.popleft()
            if not turn.done():
                self._reserved += 1
                turn.set_result(None)

    async def _sleep_until_slot(self) -> float:
        waited = 0.0
        while True:
            pauses = self._pauses
            delay = self._reserve_slot()
            if delay <= 0:
                break
            await self._sleep(delay)
            waited += delay
            if pauses == self._pauses:
                break
        return waited

    def _reserve_slot(self) -> float:
        now = self._clock()
        if self._probing and self._probing.clean_since is None:
            self._probing.clean_since = now
        earliest = max(now, self._paused_until)
        if self.rate is None:
            return earliest - now
        slack = self._burst_seconds
        slot = max(self._next_slot, earliest - slack)
        self._next_slot = slot + 1.0 / self.rate
        return slot - now

    def observe(self, limit: int | None, remaining: int | None) -> None:
        """Follow Zoom's per-second headers from a successful (accepted) response."""
        if limit is not None and limit > 0:
            self._lower_to(float(limit))
        if self._probing and self.rate is not None:
            self.rate = self._probing.raised(self.rate, self._clock())
            self._admit()  # a higher rate lets more callers hold a slot
        if self.rate is not None and remaining is not None and remaining <= 0:
            # The server's budget is spent by someone else too: leave a gap of one slot.
            self._next_slot = max(self._next_slot, self._clock()) + 1.0 / self.rate

    def _lower_to(self, limit: float) -> None:
        if self._probing:
            self._probing.cap(limit)
        if self.rate is None or limit < self.rate:
            # The account's real limit is lower than the tier we were told (or we had none).
            self.rate = limit

    def throttle(self, retry_after: float | None, *, sent_at: float | None = None) -> float:
        """A per-second 429 to a request sent at `sent_at`: pause every caller until the budget
        is back (and, when probing, lower the rate). Returns the pause in seconds."""
        now = self._clock()
        if self._probing and self.rate is not None:
            self.rate = self._probing.lowered(self.rate, now, sent_at)
        if retry_after is not None:
            pause = retry_after
        elif self.rate is None:
            pause = UNKNOWN_RATE_THROTTLE_PAUSE
        else:
            pause = THROTTLE_SLOTS / self.rate
        self._paused_until = max(self._paused_until, now + pause)
        # Every slot reserved so far is void (its sleeper takes a new one): start over after it.
        self._next_slot = self._paused_until
        self._pauses += 1
        return pause
