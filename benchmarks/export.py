"""Export benchmark: `reconciler export` of a 5,000-user account (four families, locks) into an
empty folder at 60 requests/s and 100 +- 30 ms (the sandbox in its own process on 127.0.0.1):
requests over the rate (the floor) against the wall time, and what was written.

    python benchmarks/export.py [--users 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import sandbox_process
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.export.engine import ExportOptions
from reconciler.export.run import export_files

SEED, GROUPS = 11, 10


def sandbox_options(users: int) -> list[str]:
    return [
        "--tenant", "generated", "--users", str(users), "--groups", str(GROUPS),
        "--seed", str(SEED), "--latency-ms", "100", "--jitter-ms", "30", "--rate-limit", "60",
    ]  # fmt: skip


async def _export(repo: Path) -> dict[str, Any]:
    state = load_repo(repo)
    async with Connector().from_env().open(repo, tier="business", rate=60.0, paced=True) as session:
        report = await export_files(state, session, ExportOptions())
    return {
        "requests": report.requests_sent,
        "files": len(report.written),
        "keys": report.keys_written,
        "unknown": len(report.unknown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        repo.mkdir()
        total = args.users + args.users // 5  # the generator makes some users inactive
        with sandbox_process(*sandbox_options(total)) as env:
            os.environ.update(env)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            row = asyncio.run(_export(repo))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        users = sum(1 for _ in (repo / "users").iterdir()) if (repo / "users").exists() else 0
    floor = row["requests"] / 60.0
    print(f"\nexport of a {total}-user tenant ({args.users} active-ish), 4 families, 60 req/s")
    print(
        f"{'requests':>9}{'wall s':>9}{'floor s':>9}{'effic.':>8}{'CPU s':>8}"
        f"{'files':>7}{'users':>7}{'keys':>8}{'unknown':>9}"
    )
    print(
        f"{row['requests']:>9}{wall:>9.1f}{floor:>9.1f}{floor / wall:>8.3f}{cpu:>8.1f}"
        f"{row['files']:>7}{users:>7}{row['keys']:>8}{row['unknown']:>9}"
    )


if __name__ == "__main__":
    main()
