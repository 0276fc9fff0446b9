"""Rate discovery: a plan of 1,800 generated users (two families each) with no `rate_tier`, against
sandboxes whose MEDIUM limit is 60/s and 20/s, each in its own process on 127.0.0.1 with
100 +- 30 ms of latency. The client starts at 20/s and probes up to 60/s.

`headers` says what X-RateLimit-Limit/Remaining carried: `per-second` as the sandbox serves them
(the limit itself, which caps the probe at once), or `daily`: rewritten in the client's transport
to daily figures (6000/5000), as real Zoom's answers carry, so that only 429s teach the probe.

floor s = accepted requests (sent minus 429s) / limit: the best any client could do. Target:
floor/wall >= 0.93 and 429s <= 0.5 % of the requests sent.

    python benchmarks/discover.py [--users 1800] [--headers both|per-second|daily]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from benchmarks._sandbox_process import sandbox_process
from benchmarks.plan import active_emails, sandbox_options, write_user_repo
from reconciler.connect import Connector, Session
from reconciler.desired import load_repo
from reconciler.live import LiveReader
from reconciler.plan.run import make_plan, scope_for
from reconciler.zoom import ZoomClient
from reconciler.zoom.client import default_in_flight
from reconciler.zoom.config import Pace, credentials_from_env, endpoints_from_env, rate_for

LIMITS = (60.0, 20.0)
HEADERS = ("per-second", "daily")


@dataclass
class Row:
    limit: float
    headers: str
    requests: int
    throttled: int
    wall: float
    end_rate: float | None

    @property
    def floor(self) -> float:
        return (self.requests - self.throttled) / self.limit

    @property
    def ratio(self) -> float:
        return self.floor / self.wall

    @property
    def share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


class DailyFigures(httpx2.AsyncBaseTransport):
    """The network, with X-RateLimit-Limit/Remaining rewritten to daily figures like Zoom's."""

    def __init__(self, connections: int) -> None:
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._inner = httpx2.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if "X-RateLimit-Limit" in response.headers:
            response.headers["X-RateLimit-Limit"] = "6000"
            response.headers["X-RateLimit-Remaining"] = "5000"
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def daily_session(pace: Pace) -> AsyncIterator[Session]:
    """What `Connector.open` builds from the environment, over the rewriting transport."""
    credentials, workers = credentials_from_env(), default_in_flight(pace)
    transport = DailyFigures(workers)
    async with ZoomClient(
        credentials, endpoints_from_env(), rate=pace, transport=transport
    ) as zoom:
        yield Session(zoom, LiveReader(zoom), workers, credentials.account_id)


async def _plan(repo: Path, limit: float, headers: str) -> Row:
    state = load_repo(repo)
    assert state.options.rate_tier is None
    opened: AbstractAsyncContextManager[Session] = (
        Connector().from_env().open(repo, tier=None)
        if headers == "per-second"
        else daily_session(rate_for(state.options.rate_tier))
    )
    started = time.perf_counter()
    async with opened as session:
        await make_plan(state, session, scope_for(state, (), None))
        counters, rate = session.zoom.counters, session.zoom.rate
    wall = time.perf_counter() - started
    return Row(limit, headers, counters.requests, counters.throttled, wall, rate)


def bench(users: int, headers: tuple[str, ...]) -> list[Row]:
    tenant_users = users + users // 5
    emails = active_emails(tenant_users)[:users]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_user_repo(repo, emails)
        (repo / "reconciler.yaml").write_text("policies: []\n")  # no rate_tier: probe
        for limit in LIMITS:
            for kind in headers:
                options = sandbox_options(tenant_users, 100, 30, f"{limit:g}")
                with sandbox_process(*options) as env:
                    os.environ.update(env)
                    rows.append(asyncio.run(_plan(repo, limit, kind)))
                print_row(rows[-1])
    return rows


def print_header() -> None:
    print(
        f"{'limit/s':>8} {'headers':<11}{'requests':>9}{'wall s':>9}{'floor s':>9}"
        f"{'floor/wall':>11}{'429s':>6}{'429 %':>7}{'end rate':>9}"
    )


def print_row(row: Row) -> None:
    end_rate = f"{row.end_rate:.1f}" if row.end_rate is not None else "-"
    print(
        f"{row.limit:>8.0f} {row.headers:<11}{row.requests:>9}{row.wall:>9.2f}{row.floor:>9.2f}"
        f"{row.ratio:>11.3f}{row.throttled:>6}{row.share * 100:>7.2f}{end_rate:>9}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1800)
    parser.add_argument("--headers", choices=("both", *HEADERS), default="both")
    args = parser.parse_args()
    headers = HEADERS if args.headers == "both" else (args.headers,)
    print(
        f"plan of {args.users} users x 2 families, no rate_tier (probe 20 -> 60/s), "
        f"latency 100+-30 ms"
    )
    print_header()
    rows = bench(args.users, headers)
    met = all(row.ratio >= 0.93 and row.share <= 0.005 for row in rows)
    print(f"target floor/wall >= 0.93 and 429s <= 0.5 %: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
