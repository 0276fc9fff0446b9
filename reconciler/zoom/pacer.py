"""One pacer per account: spaces requests at the account's rate, shared by every in-flight request.

It schedules each request into a time slot (a generic cell rate algorithm): no lock and no
background task, just a running "next free slot" that every caller advances by 1/rate. A small
burst allowance lets the first requests go at once. Zoom's headers feed back into it: a lower
`X-RateLimit-Limit` than configured lowers the rate, a nearly spent `X-RateLimit-Remaining`
(someone else using the same account) slows us down, and a 429 pauses every caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Without a Retry-After and without a known rate, wait a whole second (Zoom's window).
UNKNOWN_RATE_THROTTLE_PAUSE = 1.0
# With a known rate, a 429 mostly means a burst arrived early: wait for a few slots to refill.
THROTTLE_SLOTS = 3


class Pacer:
    def __init__(
        self,
        rate: float | None,
        *,
        burst_seconds: float = 0.1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._sleep = sleep
        self._next_slot = clock() - burst_seconds
        self._paused_until = 0.0
        self.waited_seconds = 0.0

    async def acquire(self) -> float:
        """Wait for this request's slot; return how long it waited."""
        delay = self._reserve_slot()
        if delay > 0:
            await self._sleep(delay)
            self.waited_seconds += delay
        return max(delay, 0.0)

    def _reserve_slot(self) -> float:
        now = self._clock()
        earliest = max(now, self._paused_until)
        if self.rate is None:
            return earliest - now
        slack = self._burst_seconds
        slot = max(self._next_slot, earliest - slack)
        self._next_slot = slot + 1.0 / self.rate
        return slot - now

    def observe(self, limit: int | None, remaining: int | None) -> None:
        """Follow Zoom's per-second headers from a successful response."""
        if limit is not None and limit > 0 and (self.rate is None or limit < self.rate):
            # The account's real limit is lower than the tier we were told (or we had none).
            self.rate = float(limit)
        if self.rate is not None and remaining is not None and remaining <= 0:
            # The server's budget is spent by someone else too: leave a gap of one slot.
            self._next_slot = max(self._next_slot, self._clock()) + 1.0 / self.rate

    def throttle(self, retry_after: float | None) -> None:
        """A per-second 429: pause every caller until the budget is back."""
        if retry_after is not None:
            pause = retry_after
        elif self.rate is None:
            pause = UNKNOWN_RATE_THROTTLE_PAUSE
        else:
            pause = THROTTLE_SLOTS / self.rate
        until = self._clock() + pause
        self._paused_until = max(self._paused_until, until)
        self._next_slot = max(self._next_slot, until)
