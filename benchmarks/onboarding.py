"""Onboarding round trip: `export` of a generated tenant (default seed) into an empty repo, then
`validate` and `plan --detailed-exitcode`, each a fresh process against a sandbox in its own
process (rate limit off). A clean onboarding is: validate 0, plan 0 (nothing to change, nothing
BLOCKED). Prints the files written and each step's exit code and time.

    python benchmarks/onboarding.py [--users 1500 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._sandbox_process import sandbox_process


def reconciler(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env={**os.environ, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode, last, time.monotonic() - started


def round_trip(users: int) -> dict[str, str | int]:
    row: dict[str, str | int] = {"users": users}
    served = sandbox_process("--users", str(users), "--rate-limit", "off")
    with served as env, tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        code, _last, took = reconciler(env, "export", str(repo), "--quiet")
        row["export"] = f"{code} ({took:.0f} s)"
        row["files"] = sum(1 for p in repo.rglob("*.yaml") if "schemas" not in p.parts)
        code, _last, took = reconciler(env, "validate", str(repo))
        row["validate"] = f"{code} ({took:.0f} s)"
        code, last, took = reconciler(
            env, "plan", str(repo), "--quiet", "--detailed-exitcode"
        )
        row["plan --detailed-exitcode"] = f"{code} ({took:.0f} s)"
        row["plan says"] = last
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1500])
    args = parser.parse_args()
    rows = [round_trip(users) for users in args.users]
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[column]) for column in columns))


if __name__ == "__main__":
    main()
