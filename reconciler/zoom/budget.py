"""The time a whole run may spend reading from Zoom, so an API that never answers ends a run.

Each request has its own deadline and retries; on their own they bound one read, not a run: a
black-hole API costs every read its full retries, one after another. A `ReadBudget` bounds the
run twice, both counted from its first read: `total_seconds` for all of its reads, and
`stall_seconds` with no answer from Zoom at all (an answer of any status shows the API is there;
a 429 is an answer). Past either, the read in flight is cut and every later read fails at once,
so the targets left come out UNKNOWN within the bound instead of after hours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import Unavailable

ResultT = TypeVar("ResultT")

# Where both are set (defaults and why: RepoOptions), for the message that names them.
SETTING = "read_deadline / read_stall in reconciler.yaml"


@dataclass(frozen=True)
class ReadBudget:
    total_seconds: float
    stall_seconds: float


class ReadClock:
    """One run's read budget: when its reads began and when Zoom last answered."""

    def __init__(self, budget: ReadBudget, clock: Callable[[], float]) -> None:
        self.budget = budget
        self._clock = clock
        self._began: float | None = None
        self._last_answer: float | None = None

    def answered(self) -> None:
        self._last_answer = self._clock()

    def _left(self) -> tuple[float, str]:
        """Seconds left and, for when none are, which bound ran out."""
        now = self._clock()
        if self._began is None:
            self._began = self._last_answer = now
        assert self._last_answer is not None  # set with _began
        total = self._began + self.budget.total_seconds - now
        stall = self._last_answer + self.budget.stall_seconds - now
        if total <= stall:
            return total, f"the run's reads took their whole {self.budget.total_seconds:g} s"
        return stall, f"Zoom answered nothing for {self.budget.stall_seconds:g} s"

    async def bounded(self, work: Awaitable[ResultT], method: str, path: str) -> ResultT:
        """`work`'s result, or `Unavailable` once the budget is spent (`work` is cancelled)."""
        left, why = self._left()
        if left <= 0:
            _close(work)
            raise _spent(why, method, path)
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=left)
                if done:
                    return task.result()
                left, why = self._left()
                if left <= 0:
                    raise _spent(why, method, path)
        finally:
            await _cancelled(task)


def _close(work: Awaitable[object]) -> None:
    """A coroutine never started is closed, so Python does not warn it was never awaited."""
    if asyncio.iscoroutine(work):
        work.close()


async def _cancelled(task: asyncio.Future[ResultT]) -> None:
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _spent(why: str, method: str, path: str) -> Unavailable:
    return Unavailable(
        f"not read: {why}, so the run stops reading; check ZOOM_API_URL and the network, "
        f"or raise {SETTING}",
        method=method,
        path=path,
    )
