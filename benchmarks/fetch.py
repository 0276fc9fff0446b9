"""Read every user's general settings through the client, at the account's rate, and compare
with a naive sequential reader (one request at a time, 1 s sleep on 429).

    python benchmarks/fetch.py --users 3000 --latency-ms 100 --jitter-ms 30 --rate 60

The sandbox runs in its own process (uvicorn on 127.0.0.1). CPU time is this process's only.
The naive reader runs on a sample of users (it is slow by design) and its time for all users is
projected from its measured rate; the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import httpx2

from benchmarks._sandbox_process import sandbox_process
from reconciler.zoom import (
    Credentials,
    Endpoints,
    Secret,
    ZoomClient,
    get_settings,
    iter_users,
    map_concurrently,
)


@dataclass
class Row:
    reader: str
    requests: int
    wall: float
    floor: float
    throttled: int
    retries: int
    cpu: float
    note: str = ""

    @property
    def efficiency(self) -> float:
        return self.floor / self.wall if self.wall else 0.0


def _client(env: dict[str, str], rate: float | None) -> ZoomClient:
    return ZoomClient(
        Credentials(
            env["ZOOM_ACCOUNT_ID"], env["ZOOM_CLIENT_ID"], Secret(env["ZOOM_CLIENT_SECRET"])
        ),
        Endpoints(api_url=env["ZOOM_API_URL"], oauth_url=env["ZOOM_OAUTH_URL"]),
        rate=rate,
    )


async def paced_read(env: dict[str, str], rate: float | None, workers: int) -> tuple[Row, int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with _client(env, rate) as zoom:
        ids = [user["id"] async for user in iter_users(zoom)]
        read = failed = 0

        async def one(user_id: str) -> object:
            return await get_settings(zoom, "user", user_id, "general")

        async for outcome in map_concurrently(one, ids, workers=workers):
            read += outcome.ok
            failed += not outcome.ok
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        counters = zoom.counters
        floor = counters.requests / rate if rate else 0.0
        row = Row(
            "reconciler",
            counters.requests,
            wall,
            floor,
            counters.throttled,
            counters.retries,
            cpu,
            f"{read} read, {failed} failed",
        )
    return row, len(ids)


def naive_read(env: dict[str, str], sample: int, rate: float | None) -> Row:
    """What hand-written scripts do: sequential requests, sleep a second on 429."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with httpx2.Client(timeout=30) as http:
        token = http.post(
            env["ZOOM_OAUTH_URL"],
            params={"grant_type": "account_credentials", "account_id": env["ZOOM_ACCOUNT_ID"]},
            auth=(env["ZOOM_CLIENT_ID"], env["ZOOM_CLIENT_SECRET"]),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        page = http.get(
            f"{env['ZOOM_API_URL']}/users", params={"page_size": sample}, headers=headers
        ).json()
        requests, throttled = 1, 0
        for user in page["users"][:sample]:
            while True:
                requests += 1
                response = http.get(
                    f"{env['ZOOM_API_URL']}/users/{user['id']}/settings", headers=headers
                )
                if response.status_code != 429:
                    break
                throttled += 1
                time.sleep(1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    floor = requests / rate if rate else 0.0
    return Row("naive (sample)", requests, wall, floor, throttled, 0, cpu)


def print_table(rows: list[Row]) -> None:
    print(
        f"{'reader':<16}{'requests':>9}{'wall s':>9}{'floor s':>9}{'effic.':>8}"
        f"{'429s':>6}{'retries':>8}{'CPU s':>8}{'req/s':>8}  note"
    )
    for row in rows:
        print(
            f"{row.reader:<16}{row.requests:>9}{row.wall:>9.2f}{row.floor:>9.2f}"
            f"{row.efficiency:>8.3f}{row.throttled:>6}{row.retries:>8}{row.cpu:>8.2f}"
            f"{row.requests / row.wall:>8.1f}  {row.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--jitter-ms", type=float, default=30)
    parser.add_argument("--rate", default="60", help="requests/s of the sandbox and client, or off")
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="0: the client's default")
    args = parser.parse_args()
    rate = None if args.rate == "off" else float(args.rate)
    options = [
        "--tenant",
        "generated",
        "--users",
        str(args.users),
        "--groups",
        "10",
        "--latency-ms",
        str(args.latency_ms),
        "--jitter-ms",
        str(args.jitter_ms),
        "--rate-limit",
        args.rate,
    ]
    with sandbox_process(*options) as env:
        workers = args.workers or (max(8, int(rate)) if rate else 32)
        paced, users = asyncio.run(paced_read(env, rate, workers))
        rows = [paced]
        if args.naive_sample:
            naive = naive_read(env, args.naive_sample, rate)
            projected = naive.wall / naive.requests * paced.requests
            naive.note = f"projected for {paced.requests} requests: {projected:.0f} s"
            rows.append(naive)
    print(
        f"users={users} latency={args.latency_ms}±{args.jitter_ms} ms rate={args.rate}/s "
        f"workers={workers}"
    )
    print_table(rows)
    if args.naive_sample:
        print(
            f"naive / reconciler wall time, projected to the same requests: "
            f"{projected / paced.wall:.1f}x"
        )


if __name__ == "__main__":
    main()
