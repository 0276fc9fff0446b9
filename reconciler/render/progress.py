"""Plain progress lines for CI logs, where a progress bar would be noise: one line at the start,
then one whenever 10 s have passed or another 10 % is done since the last line, whichever comes
first, and one for each long wait the client reports.

    plan: started, 1/1800 (0%), 3 requests, 0 retries, 0 429s
    plan: 180/1800 (10%), 15.0/s, 372 requests (31.0/s), 0 retries, 0 429s, ETA 1m48s
    plan: paused 7.0 s by Zoom's rate limit (HTTP 429) on GET /users/u1/settings
    plan: 1800/1800 (100%), 15.0/s, 3603 requests (30.0/s), 0 retries, 0 429s, took 2m00s

`finish` writes a last line when the run has gone on since the last one (apply's final re-check
reads after its last target is done), so the last count shown is the run's summary's. It writes
only to the file handle it is given. Rates are averages since it was made; "requests" counts
every request the client sent (token requests and retries too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO

from reconciler.zoom.pacer import WaitEvent

Clock = Callable[[], float]

EVERY_SECONDS = 10.0
EVERY_TENTHS = 1  # of done/total


class Counters(Protocol):
    """What the client has done so far (`reconciler.zoom.ClientCounters` fits)."""

    @property
    def requests(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def throttled(self) -> int: ...


class ProgressLines:
    """A `ProgressHook` (call it with done, total) that writes progress lines to `fh`; pass its
    `wait` method to the client as its observer for a line per long wait."""

    def __init__(
        self,
        fh: TextIO,
        counters: Counters,
        label: str,
        *,
        clock: Clock = time.monotonic,
        quiet_for: float = 0.0,
    ) -> None:
        """`quiet_for`: no line before the run has taken this long, so quick runs stay quiet."""
        self._quiet_for = quiet_for
        self._fh = fh
        self._counters = counters
        self._label = label
        self._clock = clock
        self._started = clock()
        self._last_line: float | None = None
        self._last_tenths = 0
        self._last_done = (0, 0)
        self._shown_requests = 0

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        self._last_done = (done, total)
        if now - self._started < self._quiet_for:
            return
        tenths = _tenths(done, total)
        if self._last_line is None:
            self._write(f"started, {_share(done, total)}, {self._counts()}")
        elif now - self._last_line >= EVERY_SECONDS or tenths >= self._last_tenths + EVERY_TENTHS:
            self._write(self._progress(done, total, now - self._started))
        else:
            return
        self._last_line, self._last_tenths = now, tenths

    def finish(self) -> None:
        """The closing line, if lines were shown and the counts moved since the last one."""
        if self._last_line is None or self._counters.requests == self._shown_requests:
            return
        done, total = self._last_done
        self._write(self._progress(done, total, self._clock() - self._started))

    def wait(self, event: WaitEvent) -> None:
        """A line for a long wait of the client's (always: it is what a quiet log needs)."""
        self._write(_waiting(event))

    def _progress(self, done: int, total: int, elapsed: float) -> str:
        per_second = done / elapsed if elapsed > 0 else 0.0
        requests = self._counters.requests / elapsed if elapsed > 0 else 0.0
        if done >= total:
            end = f"took {_duration(elapsed)}"
        elif per_second > 0:
            end = f"ETA {_duration((total - done) / per_second)}"
        else:
            end = "ETA unknown"
        return (
            f"{_share(done, total)}, {per_second:.1f}/s, "
            f"{self._counts(f' ({requests:.1f}/s)')}, {end}"
        )

    def _counts(self, request_rate: str = "") -> str:
        counters = self._counters
        return (
            f"{counters.requests} requests{request_rate}, {counters.retries} retries, "
            f"{counters.throttled} 429s"
        )

    def _write(self, line: str) -> None:
        self._shown_requests = self._counters.requests
        self._fh.write(f"{self._label}: {line}\n")
        self._fh.flush()  # a CI log shows lines as they come only if they leave the buffer


def _tenths(done: int, total: int) -> int:
    return 10 if total <= 0 else min(10, done * 10 // total)


def _share(done: int, total: int) -> str:
    percent = 100 if total <= 0 else done * 100 // total
    return f"{done}/{total} ({percent}%)"


def _waiting(event: WaitEvent) -> str:
    request = f"{event.method} {event.path}"
    if event.kind == "throttled":
        return f"paused {event.seconds:.1f} s by Zoom's rate limit ({event.reason}) on {request}"
    if event.kind == "slow_answer":
        return f"no answer yet after {event.seconds:.1f} s to {request}; still waiting"
    return f"retrying {request} in {event.seconds:.1f} s after {event.reason}"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
