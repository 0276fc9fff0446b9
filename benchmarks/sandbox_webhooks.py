"""What the sandbox's webhooks cost a write, and how fast they reach a receiver.

User settings PATCHes go to an in-process sandbox (a generated tenant, rate limits off) one after
another; the receiver is a threaded HTTP server on 127.0.0.1 that answers 200 at once or after a
delay. "PATCH" is the time until the write's answer; "to receiver" from the write's answer until
the receiver had the event. A slow receiver must not slow the writes: the events are sent from
the background.

    python benchmarks/sandbox_webhooks.py [--users 1000] [--writes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2

from reconciler.sandbox import SandboxConfig, SandboxTransport, create_app, generate_tenant

SECRET = "benchmark-secret"  # a throwaway value for a local receiver
OFF = {"rate_limits": {"LIGHT": None, "MEDIUM": None, "HEAVY": None}}


@contextmanager
def receiver(delay: float) -> Iterator[tuple[str, dict[str, float]]]:
    """A receiver on 127.0.0.1; yields its URL and {tracking id: time received}."""
    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            arrived[self.headers["x-zm-trackingid"]] = time.time()
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/zoom/events", arrived
    finally:
        server.shutdown()
        server.server_close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(users: int, writes: int, webhook: dict[str, Any] | None) -> dict[str, Any]:
    changes: dict[str, Any] = {**OFF, "webhook": webhook} if webhook else OFF
    app = create_app(SandboxConfig().with_changes(changes), generate_tenant(users=users, seed=3))
    transport = SandboxTransport(app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = await client.post(
            "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
            auth=("sandbox-client", "sandbox-secret"),
        )
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        answered: list[float] = []
        patch_ms: list[float] = []
        for index in range(writes):
            body = json.dumps({"in_meeting": {"chat": index % 2 == 0}})
            started = time.perf_counter()
            answer = await client.patch(
                f"/v2/users/user{index % users:05d}@example.test/settings",
                content=body,
                headers={"content-type": "application/json"},
            )
            patch_ms.append((time.perf_counter() - started) * 1000)
            answered.append(time.time())
            assert answer.status_code == 204, answer.text
        hooks = app.sandbox.webhooks
        drained_from = time.perf_counter()
        if webhook:
            await hooks.drain(timeout=600)
        drain_s = time.perf_counter() - drained_from
        entries = hooks.entries()
        await hooks.aclose()
    return {"patch_ms": patch_ms, "answered": answered, "entries": entries, "drain_s": drain_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    print(f"{args.writes} user settings PATCHes, one after another, {args.users}-user tenant\n")
    header = f"{'webhooks':<28} {'PATCH p50':>10} {'PATCH p99':>10} {'to receiver p50':>16}"
    print(header + f" {'p99':>8} {'delivered':>10} {'drain':>8}")
    for label, delay in (
        ("off", None),
        ("on, receiver answers at once", 0.0),
        ("on, receiver takes 200 ms", 0.2),
    ):
        if delay is None:
            result = asyncio.run(run(args.users, args.writes, None))
            latency = "-"
            delivered = "-"
            p99 = "-"
            drain = "-"
        else:
            with receiver(delay) as (url, arrived):
                webhook = {"url": url, "secret": SECRET}
                result = asyncio.run(run(args.users, args.writes, webhook))
            waits = [
                (arrived[entry["event_id"]] - answered) * 1000
                for entry, answered in zip(result["entries"], result["answered"], strict=True)
            ]
            latency = f"{statistics.median(waits):.1f} ms"
            p99 = f"{percentile(waits, 0.99):.1f} ms"
            ok = sum(entry["outcome"] == "delivered" for entry in result["entries"])
            delivered = f"{ok}/{args.writes}"
            drain = f"{result['drain_s']:.2f} s"
        patch_ms = result["patch_ms"]
        median, worst = statistics.median(patch_ms), percentile(patch_ms, 0.99)
        row = f"{label:<28} {median:>7.2f} ms {worst:>7.2f} ms"
        print(row + f" {latency:>16} {p99:>8} {delivered:>10} {drain:>8}")


if __name__ == "__main__":
    main()
