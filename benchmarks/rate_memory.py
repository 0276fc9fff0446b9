"""The whole `reconciler plan` command against a 60/s sandbox (100 +- 30 ms latency), with no
`rate_tier`: a cold run (no `.reconciler/rate.json`: the probe climbs from Pro's 20/s), then a
warm run that resumes at the rate the cold one proved, then a run pinned by `rate_tier: business`
for comparison. Each is a fresh process, so start-up, repo loading and rendering count.

floor s = requests the sandbox accepted (its journal, 429s apart) / the limit: the best any client
could do. Target: floor/wall >= 0.90 for the warm run.

    python benchmarks/rate_memory.py [--users 1800] [--limit 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import sandbox_process
from benchmarks.plan import active_emails, sandbox_options, write_user_repo
from reconciler.zoom.rate_memory import RATE_FILE


def journal(env: dict[str, str], *, clear: bool = False) -> list[dict[str, Any]]:
    url = env["ZOOM_API_URL"].removesuffix("/v2") + "/_sandbox/journal"
    request = urllib.request.Request(url, method="DELETE" if clear else "GET")
    for _attempt in range(50):  # the sandbox prints its address just before it listens
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return [] if clear else list(json.load(answer)["entries"])
        except urllib.error.URLError:
            time.sleep(0.2)
    raise RuntimeError(f"no sandbox answers at {url}")


def run_plan(env: dict[str, str], repo: Path, limit: float) -> dict[str, Any]:
    journal(env, clear=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", str(repo), "--quiet"],
        env={**os.environ, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    entries = journal(env)
    accepted = sum(1 for entry in entries if entry["status"] != 429)
    floor = accepted / limit
    return {
        "exit": done.returncode,
        "requests": len(entries),
        "429s": len(entries) - accepted,
        "wall s": round(wall, 2),
        "floor s": round(floor, 2),
        "floor/wall": round(floor / wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1800)
    parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    tenant_users = args.users + args.users // 5
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_user_repo(repo, active_emails(tenant_users)[: args.users])
        options = sandbox_options(tenant_users, 100, 30, f"{args.limit:g}")
        with sandbox_process(*options) as env:
            (repo / "reconciler.yaml").write_text("policies: []\n")  # no rate_tier: probe
            rows.append(("cold (probe from 20/s)", run_plan(env, repo, args.limit)))
            remembered = json.loads((repo / RATE_FILE).read_text())["accounts"]
            rows.append(("warm (rate.json)", run_plan(env, repo, args.limit)))
            (repo / RATE_FILE).unlink()
            (repo / "reconciler.yaml").write_text("rate_tier: business\n")
            rows.append(("rate_tier: business", run_plan(env, repo, args.limit)))
    print(f"plan of {args.users} users, sandbox limit {args.limit:g}/s, latency 100+-30 ms")
    print(f"remembered after the cold run: {remembered}")
    columns = list(rows[0][1])
    print(f"{'run':<24}" + "".join(f"{c:>12}" for c in columns))
    for name, row in rows:
        print(f"{name:<24}" + "".join(f"{row[c]!s:>12}" for c in columns))


if __name__ == "__main__":
    main()
