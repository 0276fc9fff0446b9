"""The run's read budget against Zoom stand-ins that stop answering, over real sockets.

Each request has its own deadline and retries, so without the budget one read of a black-hole
API takes minutes and a run of many reads takes hours. The bounds asserted here are generous on
purpose: what they pin is that a run ends in bounded time, not how fast.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.errors import Unavailable
from reconciler.sandbox.server import running_sandbox
from reconciler.zoom import Credentials, Endpoints, Secret, ZoomClient
from reconciler.zoom.budget import ReadBudget
from tests.hostile_zoom import HostileZoom
from tests.zoom.conftest import get_json

CREDENTIALS = Credentials("acct", "client", Secret("client-secret-VALUE"))


@contextmanager
def black_hole() -> Iterator[str]:
    """A listening socket that never accepts: connections open, no byte ever comes back."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        host, port = server.getsockname()[:2]
        yield f"http://{host}:{port}"


class AnswersThenHangs:
    """A hostile Zoom that answers its first `answers` API requests, then never again."""

    def __init__(self, answers: int) -> None:
        self.zoom = HostileZoom()
        self.left = answers
        self.asked = 0
        self.released = False  # set before the server stops, so it need not wait on the hang

    def release(self) -> None:
        self.released = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2/"):
            self.asked += 1
            while self.left <= 0 and not self.released:
                await asyncio.sleep(0.05)
            self.left -= 1
        await self.zoom(scope, receive, send)


def client_for(base: str, budget: ReadBudget) -> ZoomClient:
    endpoints = Endpoints(f"{base}/v2", f"{base}/oauth/token")
    return ZoomClient(CREDENTIALS, endpoints, rate=1000.0, read_budget=budget)


async def _read_users(base: str, budget: ReadBudget, reads: int) -> list[str]:
    """What each of `reads` GETs came to, one after another."""
    outcomes: list[str] = []
    async with client_for(base, budget) as zoom:
        for _ in range(reads):
            try:
                await get_json(zoom, "/users/me")
                outcomes.append("read")
            except Unavailable as error:
                outcomes.append(str(error))
    return outcomes


def test_a_black_hole_api_ends_the_run_at_its_deadline() -> None:
    budget = ReadBudget(total_seconds=2.0, stall_seconds=60.0)
    with black_hole() as base:
        started = time.monotonic()
        outcomes = asyncio.run(_read_users(base, budget, reads=3))
        took = time.monotonic() - started
    spent = (
        "GET /users/me: not read: the run's reads took their whole 2 s, so the run stops "
        "reading; check ZOOM_API_URL and the network, or raise read_deadline / read_stall in "
        "reconciler.yaml"
    )
    assert outcomes == [spent, spent, spent]
    # Without the budget the first read alone sits out 60 s deadlines and 120 s of retries.
    assert took < 20


def test_reads_stop_once_zoom_stops_answering() -> None:
    app = AnswersThenHangs(answers=2)
    budget = ReadBudget(total_seconds=3600.0, stall_seconds=1.5)
    with running_sandbox(app) as base:  # type: ignore[arg-type]
        started = time.monotonic()
        outcomes = asyncio.run(_read_users(base, budget, reads=5))
        took = time.monotonic() - started
        app.release()
    stalled = (
        "GET /users/me: not read: Zoom answered nothing for 1.5 s, so the run stops reading; "
        "check ZOOM_API_URL and the network, or raise read_deadline / read_stall in "
        "reconciler.yaml"
    )
    assert outcomes == ["read", "read", stalled, stalled, stalled]
    # The reads after the stall were never sent: the third is the last Zoom was asked.
    assert app.asked == 3
    assert took < 20


class AnswersSlowly:
    """A hostile Zoom whose every answer comes `delay` seconds late."""

    def __init__(self, delay: float) -> None:
        self.zoom = HostileZoom()
        self.delay = delay

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2/"):
            await asyncio.sleep(self.delay)
        await self.zoom(scope, receive, send)


def test_answers_keep_a_slow_run_going_past_the_stall_bound() -> None:
    """The stall bound counts from Zoom's last answer, not from the run's start: four reads of
    a second each take longer than the 1.5 s bound, and all of them are read."""
    budget = ReadBudget(total_seconds=3600.0, stall_seconds=1.5)
    with running_sandbox(AnswersSlowly(1.0)) as base:  # type: ignore[arg-type]
        outcomes = asyncio.run(_read_users(base, budget, reads=4))
    assert outcomes == ["read"] * 4


def test_a_spent_budget_sends_nothing() -> None:
    app = AnswersThenHangs(answers=100)
    with running_sandbox(app) as base:  # type: ignore[arg-type]
        outcomes = asyncio.run(_read_users(base, ReadBudget(0.0, 60.0), reads=2))
    spent = (
        "GET /users/me: not read: the run's reads took their whole 0 s, so the run stops "
        "reading; check ZOOM_API_URL and the network, or raise read_deadline / read_stall in "
        "reconciler.yaml"
    )
    assert outcomes == [spent, spent]
    assert app.asked == 0
