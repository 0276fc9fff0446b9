"""Apply a change to 1,000 users at the account's rate and compare with the floor.

    python -m benchmarks.apply --users 1000 --latency-ms 100 --jitter-ms 30 --rate 60

The sandbox runs in its own process (uvicorn on 127.0.0.1) with a generated tenant; a settings repo
written to a temporary folder flips one setting of each of `--users` users. The run is the core of
`reconciler apply --yes`: plan (list users, read each user's family), then apply (PATCH and a
verifying GET per user), each phase timed on its own. The floor is what the account's rate allows:
(GET + PATCH + verifying GET per target) / rate. CPU time is this process's only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from benchmarks._sandbox_process import sandbox_process
from reconciler.apply.report import ApplyReport
from reconciler.apply.run import ApplySettings, check_plan, run_apply
from reconciler.connect import Connector, Session
from reconciler.desired import DesiredState, load_repo
from reconciler.plan.model import Plan
from reconciler.plan.run import make_plan
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant, User

GROUPS, SEED = 10, 1  # the generated tenant, with the users that --users asks for
FLIPPED = ("in_meeting", "breakout_room")
OPTIONS = (
    "rate_tier: business\nsafety:\n  max_changed_targets: 100000\n  max_changed_percent: 100\n"
)


@dataclass
class Row:
    phase: str
    targets: int
    requests: int
    wall: float
    floor: float
    throttled: int
    retries: int
    cpu: float

    @property
    def efficiency(self) -> float:
        return self.floor / self.wall if self.wall else 0.0


def changeable(tenant: Tenant, resolver: Resolver, user: User) -> bool:
    group = resolver.primary_group(user)
    return user.status == "active" and resolver.lock_owner(user, group, "general", FLIPPED) is None


def write_repo(root: Path, tenant: Tenant, count: int) -> None:
    """One file per user, each flipping FLIPPED; every such user is one changed target."""
    resolver = Resolver(tenant)
    users = [user for user in tenant.users if changeable(tenant, resolver, user)][:count]
    if len(users) < count:
        raise SystemExit(f"the tenant has only {len(users)} users to change")
    (root / "users").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(OPTIONS)
    for user in users:
        current = resolver.user_settings(user, "general")["in_meeting"]["breakout_room"]
        text = f"settings:\n  in_meeting:\n    breakout_room: {str(not current).lower()}\n"
        (root / "users" / f"{user.email}.yaml").write_text(text)


class Journal:
    """The sandbox's request journal, one phase at a time."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = env["ZOOM_API_URL"].removesuffix("/v2") + "/_sandbox/journal"

    def clear(self) -> None:
        httpx2.delete(self.url)

    def tally(self) -> tuple[int, int, int]:
        """(API requests, 429s, resends: 429s, 401s, 5xx and dropped connections)."""
        entries: list[dict[str, Any]] = httpx2.get(self.url, timeout=60).json()["entries"]
        api = [entry["status"] for entry in entries if entry["path"].startswith("/v2/")]
        resent = sum(status in (401, 429, None) or status >= 500 for status in api)
        return len(api), api.count(429), resent


async def timed(work: Any) -> tuple[Any, float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await work
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


def row(phase: str, targets: int, per_target: int, rate: float, journal: Journal,
        wall: float, cpu: float) -> Row:  # fmt: skip
    requests, throttled, resent = journal.tally()
    return Row(phase, targets, requests, wall, targets * per_target / rate, throttled, resent, cpu)


async def checked_apply(
    plan: Plan, state: DesiredState, session: Session, settings: ApplySettings
) -> ApplyReport:
    """The checks and the apply, timed together as they run in `apply`."""
    return await run_apply(await check_plan(plan, state, session, settings), state, session)


async def run(repo: Path, env: dict[str, str], rate: float) -> tuple[list[Row], Plan, Any]:
    os.environ.update(env)
    journal = Journal(env)
    journal.clear()
    state = load_repo(repo)
    # One session for both phases, as `apply` without `--plan` runs.
    connector = Connector().from_env()  # the ZOOM_* environment's account
    async with connector.open(repo, tier=state.options.rate_tier, rate=rate) as session:
        plan, plan_wall, plan_cpu = await timed(make_plan(state, session))
        targets = len({request.target for request in plan.requests})
        plan_row = row("plan", targets, 1, rate, journal, plan_wall, plan_cpu)
        journal.clear()
        audit_log = repo / "audit.log"
        # Forced: this measures throughput; the safety limits have their own tests.
        settings = ApplySettings(audit_log, "benchmark", saved_plan=False, force=True)
        report, wall, cpu = await timed(checked_apply(plan, state, session, settings))
    apply_row = row("apply", targets, 2, rate, journal, wall, cpu)
    total = Row(
        "plan + apply",
        targets,
        plan_row.requests + apply_row.requests,
        plan_row.wall + apply_row.wall,
        plan_row.floor + apply_row.floor,
        plan_row.throttled + apply_row.throttled,
        plan_row.retries + apply_row.retries,
        plan_row.cpu + apply_row.cpu,
    )
    return [plan_row, apply_row, total], plan, report


def print_table(rows: list[Row]) -> None:
    print(
        f"{'phase':<14}{'targets':>8}{'requests':>9}{'wall s':>9}{'floor s':>9}{'effic.':>8}"
        f"{'429s':>6}{'retries':>8}{'CPU s':>8}"
    )
    for found in rows:
        print(
            f"{found.phase:<14}{found.targets:>8}{found.requests:>9}{found.wall:>9.2f}"
            f"{found.floor:>9.2f}{found.efficiency:>8.3f}{found.throttled:>6}{found.retries:>8}"
            f"{found.cpu:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="changed users")
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--jitter-ms", type=float, default=30)
    parser.add_argument("--rate", type=float, default=60, help="the sandbox's MEDIUM req/s")
    args = parser.parse_args()
    tenant_users = args.users * 6 // 5
    tenant = generate_tenant(users=tenant_users, groups=GROUPS, seed=SEED)
    options = [
        *("--tenant", "generated", "--users", str(tenant_users)),
        *("--groups", str(GROUPS), "--seed", str(SEED)),
        *("--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms)),
        *("--rate-limit", str(args.rate)),
    ]
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as scratch:
        repo = Path(scratch) / "repo"
        write_repo(repo, tenant, args.users)
        with sandbox_process(*options) as env:
            rows, plan, report = asyncio.run(run(repo, env, args.rate))
    print(
        f"users={args.users} (of {tenant_users}) latency={args.latency_ms:g}±{args.jitter_ms:g} ms "
        f"rate={args.rate:g}/s; applied {len(report.targets('applied'))} targets, "
        f"{len(plan.pending)} changes, failed: {report.failed}"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
