"""Run one async call per item with a fixed number of workers, streaming outcomes as they finish.

Workers pull from one shared iterator, so memory holds `workers` items in flight, not the whole
account. Every item yields exactly one `Outcome`: its result or the `ReconcilerError` that ended
it, so no failure is dropped. Any other exception is a bug and propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.errors import ReconcilerError

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Outcome(Generic[ItemT, ResultT]):
    item: ItemT
    result: ResultT | None = None
    error: ReconcilerError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _WorkerDone:
    crash: BaseException | None = None


async def map_concurrently(
    call: Callable[[ItemT], Awaitable[ResultT]],
    items: Iterable[ItemT],
    *,
    workers: int,
) -> AsyncIterator[Outcome[ItemT, ResultT]]:
    queue: asyncio.Queue[Outcome[ItemT, ResultT] | _WorkerDone] = asyncio.Queue(workers * 2)
    shared = iter(items)

    async def work() -> None:
        crash: BaseException | None = None
        try:
            for item in shared:
                await queue.put(await _run(call, item))
        except Exception as exc:  # a bug, not a Zoom failure: re-raised in the consumer
            crash = exc
        await queue.put(_WorkerDone(crash))

    tasks = [asyncio.create_task(work()) for _ in range(max(1, workers))]
    try:
        running = len(tasks)
        while running:
            got = await queue.get()
            if isinstance(got, _WorkerDone):
                running -= 1
                if got.crash is not None:
                    raise got.crash
                continue
            yield got
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _run(call: Callable[[ItemT], Awaitable[ResultT]], item: ItemT) -> Outcome[ItemT, ResultT]:
    try:
        return Outcome(item, result=await call(item))
    except ReconcilerError as error:
        return Outcome(item, error=error)
