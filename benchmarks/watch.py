"""`reconciler watch --heal` against foreign changes, with the watcher SIGKILLed and restarted.

    python -m benchmarks.watch                                   # the issue's 40-change run
    python -m benchmarks.watch --changes 200 --per-second 5 --kill-after 100 --restart-after 125

A generated tenant is served on 127.0.0.1 (in this process, so the benchmark reads values from
the tenant itself and its polling costs the API nothing); a settings repo manages one field of
each of `--users` users, in sync at the start. `intruder@example.test` PATCHes that field away
from the repo's value, `--changes` times at `--per-second`, round-robin over the users (the
first change also turns an unmanaged field, which must keep its new value). The sandbox sends
the signed event of each settings write, the watcher's own included, to the watcher's URL, and
retries a failed delivery on Zoom's schedule (compressed by `--retry-scale`). The watcher runs
as its own process; it is SIGKILLed after the `--kill-after`th change and started again, on the
same URL, after the `--restart-after`th.

Latency is from the foreign PATCH's answer to the moment the tenant holds the repo's value
again. Requests per event are the watcher's API requests (the journal, less the intruder's)
in its event passes, divided by the events it queued; its start-up passes (a full plan each
start, the backstop for events missed while down) are counted apart.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from reconciler.sandbox import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxConfig,
    create_app,
    generate_tenant,
    running_sandbox,
)
from reconciler.sandbox.config import WebhookTarget
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant, User

SECRET = "benchmark-webhook-secret"
INTRUDER = "intruder@example.test"
MANAGED = ("in_meeting", "breakout_room")
UNMANAGED = ("in_meeting", "annotation")
PASS_LINE = re.compile(r" (event|start|resync) pass.*\((\d+) request\(s\)\)$")


# -- the watcher ----------------------------------------------------------------------------------


@dataclass
class WatcherProcess:
    process: subprocess.Popen[str]
    lines: list[str]
    url: str


@contextmanager
def watcher(
    repo: Path, env: dict[str, str], lines: list[str], port: int
) -> Iterator[WatcherProcess]:
    command = [sys.executable, "-m", "reconciler", "watch", str(repo)]
    command += ["--listen", f"127.0.0.1:{port}", "--heal"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    ready: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            found = re.search(r"listening on (http://\S+/zoom/events)", line)
            if found:
                ready.put(found.group(1))

    threading.Thread(target=read, daemon=True).start()
    try:
        yield WatcherProcess(process, lines, ready.get(timeout=60))
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(10)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_line(lines: list[str], pattern: str, start: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(re.search(pattern, line) for line in lines[start:]):
        if time.monotonic() > deadline:
            raise SystemExit(f"no /{pattern}/ from the watcher; last lines: {lines[-5:]}")
        time.sleep(0.05)


# -- the run --------------------------------------------------------------------------------------


def unlocked(resolver: Resolver, user: User, path: tuple[str, ...]) -> bool:
    group = resolver.primary_group(user)
    return resolver.lock_owner(user, group, "general", path) is None


def managed_users(tenant: Tenant, count: int) -> list[User]:
    resolver = Resolver(tenant)
    users = [
        u
        for u in tenant.users
        if u.status == "active"
        and unlocked(resolver, u, MANAGED)
        and unlocked(resolver, u, UNMANAGED)
    ]
    if len(users) < count:
        raise SystemExit(f"the tenant has only {len(users)} users to manage")
    return users[:count]


def value(tenant: Tenant, user: User, path: tuple[str, ...]) -> Any:
    return Resolver(tenant).user_settings(user, "general")[path[0]][path[1]]


def write_repo(root: Path, tenant: Tenant, users: list[User]) -> dict[str, bool]:
    """One file per user holding MANAGED at its current value (so all are in sync)."""
    (root / "users").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(
        "rate_tier: business\nsafety:\n  max_changed_targets: 100000\n  max_changed_percent: 100\n"
    )
    wanted = {}
    for user in users:
        wanted[user.id] = bool(value(tenant, user, MANAGED))
        text = f"settings:\n  in_meeting:\n    {MANAGED[1]}: {str(wanted[user.id]).lower()}\n"
        (root / "users" / f"{user.email}.yaml").write_text(text)
    return wanted


@dataclass
class Change:
    index: int
    user: User
    patched_at: float
    back_at: float | None = None
    in_outage: bool = False


def admin(url: str) -> httpx2.Client:
    client = httpx2.Client(base_url=f"{url}/v2", timeout=10)
    answer = client.post(
        f"{url}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": DEFAULT_ACCOUNT_ID},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    client.headers["X-Sandbox-Operator"] = INTRUDER
    return client


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Result:
    changes: list[Change]
    events_sent: int
    events_lost: int
    queued: int
    duplicates: int
    event_requests: int
    start_requests: list[int]
    intruder_requests: int
    total_requests: int
    unmanaged_kept: bool
    operator_logged: bool
    wall: float


def run(args: argparse.Namespace) -> Result:
    tenant = generate_tenant(users=args.users * 3 // 2, groups=5, seed=args.seed)
    users = managed_users(tenant, args.users)
    port = free_port()  # one URL, as Zoom's subscription has: the restart listens there again
    webhook = WebhookTarget(
        url=f"http://127.0.0.1:{port}/zoom/events", secret=SECRET, retry_scale=args.retry_scale
    )
    config = SandboxConfig(
        latency_ms=args.latency_ms, jitter_ms=args.latency_ms / 4, webhook=webhook
    )
    sandbox = create_app(config, tenant)
    with tempfile.TemporaryDirectory(prefix="reconciler-watch-") as scratch:
        repo = Path(scratch) / "repo"
        wanted = write_repo(repo, tenant, users)
        with running_sandbox(sandbox) as url, closing(admin(url)) as intruder:
            env = {
                **os.environ,
                "ZOOM_API_URL": f"{url}/v2",
                "ZOOM_OAUTH_URL": f"{url}/oauth/token",
                "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
                "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
                "ZOOM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
                "NO_COLOR": "1",
            }
            return _drive(args, repo, env, port, tenant, users, wanted, intruder, sandbox)


def _drive(
    args: argparse.Namespace,
    repo: Path,
    env: dict[str, str],
    port: int,
    tenant: Tenant,
    users: list[User],
    wanted: dict[str, bool],
    intruder: httpx2.Client,
    sandbox: Any,
) -> Result:
    lines: list[str] = []
    changes: list[Change] = []
    started = time.monotonic()
    journal = sandbox.sandbox.journal
    hooks = sandbox.sandbox.webhooks
    first = watcher(repo, env, lines, port)
    process = first.__enter__()
    wait_for_line(lines, r"start pass", 0)
    before_changes = len(journal)
    unmanaged_before = value(tenant, users[0], UNMANAGED)
    second = None
    for index in range(1, args.changes + 1):
        user = users[(index - 1) % len(users)]
        body: dict[str, Any] = {"in_meeting": {MANAGED[1]: not wanted[user.id]}}
        if index == 1:
            body["in_meeting"][UNMANAGED[1]] = not unmanaged_before
        answer = intruder.patch(f"/users/{user.id}/settings", json=body)
        assert answer.status_code == 204, answer.text
        # The kill comes right after the `--kill-after`th PATCH, before its repair: that one is
        # repaired by the next watcher, so it counts with the outage.
        outage = args.kill_after <= index <= args.restart_after
        changes.append(Change(index, user, time.monotonic(), in_outage=outage))
        if index == args.kill_after:
            process.process.send_signal(signal.SIGKILL)
            process.process.wait(10)
        if index == args.restart_after:
            second = watcher(repo, env, lines, port)
            second.__enter__()
        _poll(changes, tenant, wanted, until=time.monotonic() + 1 / args.per_second)
    deadline = time.monotonic() + 180
    while any(c.back_at is None for c in changes) and time.monotonic() < deadline:
        _poll(changes, tenant, wanted, until=time.monotonic() + 0.05)
    time.sleep(1.0)  # the echo events of the last repairs
    while hooks.pending():
        time.sleep(0.1)
    time.sleep(1.5)
    if second is not None:
        second.__exit__(None, None, None)
    first.__exit__(None, None, None)
    if args.log:
        Path(args.log).write_text("\n".join(lines) + "\n", encoding="utf-8")
    audit = (repo / ".reconciler" / "audit.log").read_text(encoding="utf-8").splitlines()
    operator_logged = any(INTRUDER in line for line in audit)
    passes = [PASS_LINE.search(line) for line in lines]
    event_requests = sum(int(m.group(2)) for m in passes if m and m.group(1) == "event")
    start_requests = [int(m.group(2)) for m in passes if m and m.group(1) == "start"]
    api = [e for e in journal.entries()[before_changes:] if e.path.startswith("/v2/")]
    outcomes = [entry["outcome"] for entry in hooks.entries()]
    return Result(
        changes=changes,
        events_sent=outcomes.count("delivered"),
        events_lost=outcomes.count("failed") + outcomes.count("dropped"),
        queued=sum("queued user.settings_updated" in line for line in lines),
        duplicates=sum("delivered again" in line for line in lines),
        event_requests=event_requests,
        start_requests=start_requests,
        intruder_requests=args.changes,
        total_requests=len(api),
        unmanaged_kept=value(tenant, users[0], UNMANAGED) == (not unmanaged_before),
        operator_logged=operator_logged,
        wall=time.monotonic() - started,
    )


def _poll(changes: list[Change], tenant: Tenant, wanted: dict[str, bool], until: float) -> None:
    while True:
        now = time.monotonic()
        for change in changes:
            if (
                change.back_at is None
                and value(tenant, change.user, MANAGED) == wanted[change.user.id]
            ):
                change.back_at = now
        if now >= until:
            return
        time.sleep(0.01)


def report(args: argparse.Namespace, result: Result) -> None:
    def latencies(outage: bool) -> list[float]:
        return [
            c.back_at - c.patched_at
            for c in result.changes
            if c.in_outage == outage and c.back_at is not None
        ]

    repaired = sum(c.back_at is not None for c in result.changes)
    slowest = max(result.changes, key=lambda c: (c.back_at or float("inf")) - c.patched_at)
    print(
        f"users={args.users} changes={args.changes} at {args.per_second:g}/s, killed after "
        f"#{args.kill_after}, restarted after #{args.restart_after}, sandbox latency "
        f"{args.latency_ms:g} ms; wall {result.wall:.1f} s"
    )
    print(f"{'changes':<28}{'count':>7}{'p50 s':>9}{'p99 s':>9}{'max s':>9}")
    for name, outage in (("outside the outage", False), ("in the outage", True)):
        found = latencies(outage)
        print(
            f"{name:<28}{len(found):>7}{percentile(found, 0.5):>9.2f}"
            f"{percentile(found, 0.99):>9.2f}{max(found, default=float('nan')):>9.2f}"
        )
    events = result.queued
    per_event = result.event_requests / events if events else float("nan")
    rows = [
        ("foreign changes repaired", f"{repaired} of {len(result.changes)}"),
        ("slowest repair: change #", str(slowest.index)),
        ("events delivered (200)", str(result.events_sent)),
        ("events queued (new)", str(events)),
        ("deliveries recognised as duplicates", str(result.duplicates)),
        ("events lost (never delivered)", str(result.events_lost)),
        ("API requests in event passes", str(result.event_requests)),
        ("requests per event", f"{per_event:.2f}"),
        ("requests per foreign change", f"{result.event_requests / len(result.changes):.2f}"),
        ("start-up full passes (requests)", ", ".join(map(str, result.start_requests))),
        ("all API requests (intruder's too)", str(result.total_requests)),
        ("unmanaged field left alone", "yes" if result.unmanaged_kept else "NO"),
        (f"audit log names {INTRUDER}", "yes" if result.operator_logged else "NO"),
    ]
    for name, shown in rows:
        print(f"{name:<40}{shown:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--per-second", type=float, default=3.0)
    parser.add_argument("--kill-after", type=int, default=20)
    parser.add_argument("--restart-after", type=int, default=25)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", help="write the watcher's log lines to this file")
    parser.add_argument(
        "--retry-scale", type=float, default=0.01, help="Zoom's retry delays times this"
    )
    args = parser.parse_args()
    report(args, run(args))


if __name__ == "__main__":
    main()
