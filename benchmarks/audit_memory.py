"""Peak memory and evidence size of a whole `reconciler audit --evidence DIR` command.

For each size: a generated tenant (8 groups, seed 2, rate limit off) served in its own process,
a settings repo that enables the CIS pack (benchmarks/audit.py's), and the command run in a fresh
process: its peak RSS (the child's own `ru_maxrss`, from `os.wait4`, so neither this process nor
the sandbox counts), its wall time, and the evidence bundle's bytes, in total and per file.

    python benchmarks/audit_memory.py [--users 2000 5000] [--format sarif] [--by-report]

`--by-report` also runs the audit in a fresh process and renders each report after it (to a
gzip file, as the bundle has them), printing the process's peak RSS after each step: which
report's renderer sets the peak.

Target (issue 21): peak RSS <= 300 MB at 5,000 users, and flat in the account's size.
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
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import sandbox_process
from benchmarks.audit import command_process, write_repo
from reconciler.audit.run import report_file, run_audit
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.render.audit import EVIDENCE_NAMES, render_audit

SEED, GROUPS = 2, 8


def sandbox_options(users: int) -> list[str]:
    return [
        "--tenant", "generated", "--users", str(users), "--groups", str(GROUPS),
        "--seed", str(SEED), "--rate-limit", "off",
    ]  # fmt: skip


def run_audit_process(repo: Path, evidence: Path, env: dict[str, str], fmt: str) -> dict[str, Any]:
    """The command in a fresh process; its exit code, wall seconds and peak RSS in MB."""
    command = [
        sys.executable, "-m", "reconciler", "audit", str(repo), "--evidence", str(evidence),
        "--format", fmt, "--quiet",
    ]  # fmt: skip
    if fmt != "markdown":  # Markdown goes to stdout (cut to a comment's size), the rest to a file
        command += ["--out", str(evidence.parent / f"report.{fmt}")]
    done = command_process(command, env)
    if done["exit"] not in (0, 2):
        raise RuntimeError(f"audit exited {done['exit']}:\n{done['stderr'][-2000:]}")
    return {"exit": done["exit"], "wall": done["wall"], "peak_rss_mb": done["peak_rss_mb"]}


def bundle_sizes(evidence: Path) -> dict[str, int]:
    return {
        path.relative_to(evidence).as_posix(): path.stat().st_size
        for path in sorted(evidence.rglob("*"))
        if path.is_file()
    }


def measure(users: int, fmt: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        repo, evidence = Path(scratch) / "repo", Path(scratch) / "evidence"
        write_repo(repo)
        with sandbox_process(*sandbox_options(users), timeout=300) as env:
            row = run_audit_process(repo, evidence, env, fmt)
        row["users"] = users
        row["files"] = bundle_sizes(evidence)
    return row


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _audited(repo: Path, snapshots: Path) -> Any:
    state = load_repo(repo)
    connector = Connector().from_env()  # the ZOOM_* environment's account
    async with connector.open(repo, tier=state.options.rate_tier, paced=False) as session:
        return (await run_audit(state, session, snapshot_dir=snapshots)).result


def child_by_report(repo: str, folder: str) -> None:
    """In a fresh process: the audit, then each report; the peak RSS after each, as JSON."""
    steps = {"start": _peak_mb()}
    result = asyncio.run(_audited(Path(repo), Path(folder)))
    steps["audit"] = _peak_mb()
    for fmt, name in EVIDENCE_NAMES.items():
        with report_file(Path(folder) / name) as fh:
            render_audit(result, fh, fmt)
        steps[fmt] = _peak_mb()
    print(json.dumps(steps))


def by_report(users: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_repo(repo)
        with sandbox_process(*sandbox_options(users), timeout=300) as env:
            child = subprocess.run(
                [sys.executable, __file__, "--child-by-report", str(repo), scratch],
                env={**os.environ, **env, "NO_COLOR": "1"},
                capture_output=True,
                text=True,
                check=True,
            )
    steps: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return steps


def print_steps(users: int, steps: dict[str, float]) -> None:
    print(f"\n{users} users, in one process: peak RSS (MB) after each step")
    print("   " + "".join(f"{name:>10}" for name in steps))
    print("   " + "".join(f"{peak:>10.0f}" for peak in steps.values()))


def print_row(row: dict[str, Any]) -> None:
    total = sum(row["files"].values())
    print(
        f"\n{row['users']} users: peak RSS {row['peak_rss_mb']:.0f} MB, wall {row['wall']:.0f} s, "
        f"exit {row['exit']}, evidence {total / 1e6:.1f} MB in {len(row['files'])} files"
    )
    print(f"   {'file':<44}{'MB':>10}")
    for name, size in row["files"].items():
        shown = name if len(name) <= 42 else "..." + name[-39:]
        print(f"   {shown:<44}{size / 1e6:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--format", default="markdown", help="the command's --format")
    parser.add_argument("--by-report", action="store_true", help="the peak after each report")
    parser.add_argument("--child-by-report", nargs=2, metavar=("REPO", "FOLDER"))
    args = parser.parse_args()
    if args.child_by_report:
        child_by_report(*args.child_by_report)
        return
    for users in args.users:
        print_row(measure(users, args.format))
        if args.by_report:
            print_steps(users, by_report(users))


if __name__ == "__main__":
    main()
