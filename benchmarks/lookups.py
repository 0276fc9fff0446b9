"""User lookups at the account's rate: a repo of N user files for users Zoom does not have (all
departed or mistyped), validated, then planned against a sandbox process on 127.0.0.1 at 60/s
with 100 +- 30 ms of latency. Each unknown user costs one GET /users/{email} (a 404), so the
floor is N / 60 s; the lookups run through the client's pool and pacer, not one after another.

    python benchmarks/lookups.py [--users 10000]

Prints one row per phase: requests, wall seconds, floor seconds, floor/wall.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from benchmarks._sandbox_process import sandbox_process

RATE = 60.0


def write_repo(root: Path, users: int) -> None:
    (root / "users").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("rate_tier: business\n")
    for index in range(users):
        name = f"gone{index:05d}@example.test"
        (root / "users" / f"{name}.yaml").write_text("settings:\n  in_meeting:\n    chat: false\n")


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    users = parser.parse_args().users
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        write_repo(repo, users)
        base = [sys.executable, "-m", "reconciler"]
        env = {**os.environ, "NO_COLOR": "1"}
        validate = timed([*base, "validate", str(repo)], env)
        options = ("--tenant", "generated", "--users", "100", "--latency-ms", "100")
        with sandbox_process(*options, "--jitter-ms", "30", "--rate-limit", "60") as zoom:
            plan = timed([*base, "plan", str(repo), "--quiet"], {**env, **zoom})
            journal = httpx2.get(zoom["ZOOM_API_URL"].removesuffix("/v2") + "/_sandbox/journal")
            entries = journal.json()["entries"]
    # What the sandbox saw: the groups, the users' pages, then one GET per unknown file.
    requests = sum(entry["path"].startswith("/v2/") for entry in entries)
    throttled = sum(entry["status"] == 429 for entry in entries)
    floor = (requests - throttled) / RATE
    head = f"{'phase':<10} {'requests':>9} {'429s':>5} {'wall s':>8} {'floor s':>8}"
    print(f"{head} {'floor/wall':>10}")
    print(f"{'validate':<10} {0:>9} {0:>5} {validate:>8.2f} {'-':>8} {'-':>10}")
    row = f"{'plan':<10} {requests:>9} {throttled:>5} {plan:>8.2f} {floor:>8.2f}"
    print(f"{row} {floor / plan:>10.3f}")


if __name__ == "__main__":
    main()
