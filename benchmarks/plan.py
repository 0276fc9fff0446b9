"""Plan benchmarks, in one run (each sandbox in its own process on 127.0.0.1):

1. a plan of 3,000 users (two families each) at 60 requests/s and 100 +- 30 ms: efficiency vs floor;
2. the diff's CPU cost per target with ~250 managed settings;
3. peak memory of a plan of 20,000 users (rate limit off), in a fresh process;
4. `--changed-since` on a one-user change to a 20,000-user repo: requests sent.

    python benchmarks/plan.py [--users 3000] [--big 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import sandbox_process
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.diff import diff_managed, patch_body
from reconciler.plan.model import Plan
from reconciler.plan.run import make_plan, scope_for
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.shapes import repo_shape

SEED, GROUPS = 11, 10


def active_emails(users: int) -> list[str]:
    tenant = generate_tenant(users=users, groups=GROUPS, seed=SEED)
    return [u.email for u in tenant.users if u.status == "active"]


def write_user_repo(root: Path, emails: list[str]) -> None:
    (root / "users").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("rate_tier: business\n")
    for index, email in enumerate(emails):
        (root / "users" / f"{email}.yaml").write_text(
            "settings:\n  in_meeting:\n"
            f"    chat: {'true' if index % 2 else 'false'}\n"
            "meeting_security:\n  waiting_room: true\n"
        )


def write_defaults_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("rate_tier: business\n")
    (root / "defaults.yaml").write_text(
        "settings:\n  in_meeting:\n    chat: true\n    polling: true\n"
        "meeting_security:\n  waiting_room: true\n"
    )


def sandbox_options(users: int, latency: float, jitter: float, rate: str) -> list[str]:
    return [
        "--tenant",
        "generated",
        "--users",
        str(users),
        "--groups",
        str(GROUPS),
        "--seed",
        str(SEED),
        "--latency-ms",
        str(latency),
        "--jitter-ms",
        str(jitter),
        "--rate-limit",
        rate,
    ]


async def _plan(repo: Path, rate: float | None, changed_since: str | None) -> Plan:
    state = load_repo(repo)
    tier = state.options.rate_tier
    connector = Connector().from_env()  # the ZOOM_* environment's account
    async with connector.open(repo, tier=tier, rate=rate, paced=rate is not None) as session:
        return await make_plan(state, session, scope_for(state, (), changed_since))


def timed_plan(repo: Path, rate: float | None, changed_since: str | None = None) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    plan = asyncio.run(_plan(repo, rate, changed_since))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = plan.summary
    return {
        "wall": wall,
        "cpu": cpu,
        "requests": summary.requests_sent,
        "targets": summary.targets,
        "pending": summary.changes_pending,
        "blocked": summary.changes_blocked,
        "unknown": summary.unknown_targets,
        "skipped": summary.targets_skipped_unchanged,
    }


def bench_paced(users: int) -> None:
    emails = active_emails(users + users // 5)[:users]
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_user_repo(repo, emails)
        with sandbox_process(*sandbox_options(users + users // 5, 100, 30, "60")) as env:
            os.environ.update(env)
            row = timed_plan(repo, rate=60.0)
    floor = row["requests"] / 60.0
    print(f"\n1. plan of {row['targets']} users x 2 families at 60 req/s, 100+-30 ms")
    print(
        f"{'requests':>9}{'wall s':>9}{'floor s':>9}{'effic.':>8}{'CPU s':>8}"
        f"{'pending':>9}{'blocked':>9}{'unknown':>9}"
    )
    print(
        f"{row['requests']:>9}{row['wall']:>9.2f}{floor:>9.2f}{floor / row['wall']:>8.3f}"
        f"{row['cpu']:>8.2f}{row['pending']:>9}{row['blocked']:>9}{row['unknown']:>9}"
    )


def bench_diff() -> None:
    tenant = generate_tenant(users=10, groups=2, seed=SEED)
    user = next(u for u in tenant.users if u.status == "active")
    live = Resolver(tenant).user_settings(user, "general")
    current = repo_shape("general", live)
    desired = _flip_some(current, every=25)
    leaves = sum(1 for _ in _leaves(desired))
    rounds = 2000
    cpu0 = time.process_time()
    for _ in range(rounds):
        patch_body(diff_managed(desired, repo_shape("general", live)))
    per_target = (time.process_time() - cpu0) / rounds * 1e6
    changed = len(diff_managed(desired, current))
    print(
        f"\n2. diff CPU per target: {leaves} managed settings, {changed} changed: "
        f"{per_target:.1f} us (mean of {rounds})"
    )


def _leaves(doc: dict[str, Any]) -> Any:
    for value in doc.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def _flip_some(doc: dict[str, Any], every: int, counter: list[int] | None = None) -> dict[str, Any]:
    counter = counter if counter is not None else [0]
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out[key] = _flip_some(value, every, counter)
            continue
        counter[0] += 1
        out[key] = (not value) if isinstance(value, bool) and counter[0] % every == 0 else value
    return out


def child_memory(repo: str) -> None:
    """Run in a fresh process: plan the repo, print peak RSS and the summary as JSON."""
    row = timed_plan(Path(repo), rate=None)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(row))


def bench_memory_and_changed_since(big: int) -> None:
    with (
        tempfile.TemporaryDirectory() as scratch,
        sandbox_process(*sandbox_options(big + big // 8, 0, 0, "off")) as env,
    ):
        repo = Path(scratch) / "defaults-repo"
        write_defaults_repo(repo)
        child = subprocess.run(
            [sys.executable, __file__, "--child-memory", str(repo)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"\n3. plan of {row['targets']} users (defaults, 2 families), rate limit off, "
            f"fresh process"
        )
        print(
            f"   peak RSS {row['peak_rss_mb']:.0f} MB; {row['requests']} requests in "
            f"{row['wall']:.1f} s ({row['requests'] / row['wall']:.0f} req/s, "
            f"{row['requests'] / max(row['cpu'], 1e-9):.0f} req per CPU-second)"
        )
        os.environ.update(env)
        _changed_since(Path(scratch) / "git-repo", big)


def _changed_since(repo: Path, big: int) -> None:
    emails = active_emails(big + big // 8)[:big]
    write_user_repo(repo, emails)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=b@x.test"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    one = repo / "users" / f"{emails[7]}.yaml"
    one.write_text(one.read_text().replace("waiting_room: true", "waiting_room: false"))
    row = timed_plan(repo, rate=None, changed_since="HEAD")
    print(f"\n4. --changed-since HEAD, one user file changed in a {len(emails)}-user repo")
    print(
        f"   {row['requests']} requests; {row['targets']} target planned, "
        f"{row['skipped']} named targets skipped; {row['wall']:.1f} s (mostly loading both "
        f"revisions of the repo)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--big", type=int, default=20000)
    parser.add_argument("--child-memory", metavar="REPO")
    parser.add_argument("--skip-paced", action="store_true")
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    if not args.skip_paced:
        bench_paced(args.users)
    bench_diff()
    bench_memory_and_changed_since(args.big)


if __name__ == "__main__":
    main()
