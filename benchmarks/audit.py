"""Audit benchmarks, in one run (each sandbox in its own process on 127.0.0.1):

1. an audit of 5,000 users with the CIS pack at 60 requests/s and 100 +- 30 ms: requests over
   the rate (the floor) against the wall time;
2. peak memory of an audit of 50,000 users with the CIS pack (rate limit off), in a fresh
   process that writes its snapshot as it goes;
3. `--since` over two 50,000-user snapshots with 100 changed users (benchmarks/audit_since.py).

    python benchmarks/audit.py [--users 5000] [--big 50000] [--skip-paced]
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
from benchmarks.audit_since import since_benchmark
from reconciler.audit.run import run_audit
from reconciler.connect import Connector
from reconciler.desired import load_repo

SEED, GROUPS = 11, 10


def write_repo(root: Path) -> None:
    """The CIS pack, a defaults file and an account file: every user is judged and managed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("rate_tier: business\npolicies: [cis-zoom-1.0]\n")
    (root / "defaults.yaml").write_text("meeting_security:\n  waiting_room: true\n")
    (root / "account.yaml").write_text("settings:\n  in_meeting:\n    chat: true\n")


def sandbox_options(users: int, latency: float, jitter: float, rate: str) -> list[str]:
    return [
        "--tenant", "generated", "--users", str(users), "--groups", str(GROUPS),
        "--seed", str(SEED), "--latency-ms", str(latency), "--jitter-ms", str(jitter),
        "--rate-limit", rate,
    ]  # fmt: skip


async def _audit(repo: Path, rate: float | None, snapshots: Path) -> dict[str, Any]:
    state = load_repo(repo)
    tier = state.options.rate_tier
    connector = Connector().from_env()  # the ZOOM_* environment's account
    async with connector.open(repo, tier=tier, rate=rate, paced=rate is not None) as session:
        done = await run_audit(state, session, snapshot_dir=snapshots)
    result = done.result
    return {
        "requests": result.requests_sent,
        "targets": len(result.targets),
        "rules": len(result.rules),
        "findings": len(result.findings),
        "unknown": len(result.unknown_targets),
        "snapshot_mb": Path(result.snapshot.path).stat().st_size / 1e6 if result.snapshot else 0,
    }


def timed_audit(repo: Path, rate: float | None) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    row = asyncio.run(_audit(repo, rate, repo / ".reconciler" / "snapshots"))
    row["wall"], row["cpu"] = time.perf_counter() - wall0, time.process_time() - cpu0
    return row


def bench_paced(users: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_repo(repo)
        total = users + users // 5  # the generator makes some users inactive
        with sandbox_process(*sandbox_options(total, 100, 30, "60")) as env:
            os.environ.update(env)
            row = timed_audit(repo, rate=60.0)
    floor = row["requests"] / 60.0
    print(f"\n1. audit of {row['targets']} targets, CIS pack ({row['rules']} rules), 60 req/s")
    print(
        f"{'requests':>9}{'wall s':>9}{'floor s':>9}{'effic.':>8}{'CPU s':>8}"
        f"{'findings':>10}{'unknown':>9}{'snap MB':>9}"
    )
    print(
        f"{row['requests']:>9}{row['wall']:>9.1f}{floor:>9.1f}{floor / row['wall']:>8.3f}"
        f"{row['cpu']:>8.1f}{row['findings']:>10}{row['unknown']:>9}{row['snapshot_mb']:>9.1f}"
    )


def child_memory(repo: str) -> None:
    """Run in a fresh process: audit the repo, print peak RSS and the counts as JSON."""
    row = timed_audit(Path(repo), rate=None)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(row))


def bench_memory(big: int) -> None:
    total = big + big // 8
    with (
        tempfile.TemporaryDirectory() as scratch,
        sandbox_process(*sandbox_options(total, 0, 0, "off"), timeout=300) as env,
    ):
        repo = Path(scratch) / "repo"
        write_repo(repo)
        child = subprocess.run(
            [sys.executable, __file__, "--child-memory", str(repo)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"\n2. audit of {row['targets']} targets, CIS pack, rate limit off, fresh process")
    print(
        f"   peak RSS {row['peak_rss_mb']:.0f} MB; {row['requests']} requests in "
        f"{row['wall']:.0f} s; {row['findings']} findings; snapshot {row['snapshot_mb']:.1f} MB"
    )


def bench_since(big: int) -> None:
    row = since_benchmark(users=big, changed=100)
    print(f"\n3. --since over two {big}-user snapshots, 100 users changed")
    print(f"   {json.dumps(row)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--big", type=int, default=50000)
    parser.add_argument("--child-memory", metavar="REPO")
    parser.add_argument("--skip-paced", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    if not args.skip_paced:
        bench_paced(args.users)
    if not args.skip_memory:
        bench_memory(args.big)
    bench_since(args.big)


if __name__ == "__main__":
    main()
