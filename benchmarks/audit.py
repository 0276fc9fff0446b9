"""A CIS audit at a real account's size (issue 21), one row per tenant size:

For each `--users` size, a generated tenant (8 groups, seed 2) served in its own process on
127.0.0.1 and a settings repo that enables the CIS pack (`write_repo`). Then, each command in a
fresh process:

1. `reconciler audit REPO --evidence DIR --format sarif`: its wall time, its peak RSS (the
   child's own `ru_maxrss`, from `os.wait4`), the requests it sent (its JSON report's
   `requests_sent`) and the size of every file of the bundle, with the SARIF's result count;
2. the remedy loop's middle (benchmarks/remedy_loop.py: `export --remedy`, `apply --yes
   --force`), with the sandbox's rate limit and latency off while it runs, which locks the
   account;
3. the same audit again: the requests it sends once the locks leave less to read.

Against a sandbox at `--rate` requests/s with `--latency-ms` +- `--jitter-ms`, the floor is the
requests over the rate, and wall/floor says how close the command comes to it. A size above
`--paced-up-to` users (whose floor alone would be over ~15 minutes at 60/s) runs with the rate
limit and latency off: its wall/floor column is empty and the notes say so.

    python benchmarks/audit.py [--users 5000 50000] [--rate 60] [--paced-up-to 10000]
                               [--lock-up-to 10000] [--since]

A size above `--lock-up-to` users has only the first audit (the remedy loop's apply of a
50,000-user account takes longer than the audit itself).

`--since` also runs `--since` over two snapshots of the largest size (benchmarks/audit_since.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import sandbox_process
from benchmarks.audit_since import since_benchmark
from benchmarks.remedy_loop import lock_with_remedy

SEED, GROUPS = 2, 8
PACK = "cis-zoom-1.0"


def write_repo(root: Path) -> None:
    """The CIS pack, a defaults file and an account file: every user is judged and managed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(f"rate_tier: business\npolicies: [{PACK}]\n")
    (root / "defaults.yaml").write_text("meeting_security:\n  waiting_room: true\n")
    (root / "account.yaml").write_text("settings:\n  in_meeting:\n    chat: true\n")


def sandbox_options(users: int, latency: float, jitter: float, rate: str) -> list[str]:
    return [
        "--tenant", "generated", "--users", str(users), "--groups", str(GROUPS),
        "--seed", str(SEED), "--latency-ms", str(latency), "--jitter-ms", str(jitter),
        "--rate-limit", rate,
    ]  # fmt: skip


def command_process(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """`command` in a fresh process: its exit code, wall seconds, peak RSS in MB and stderr."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**os.environ, **env, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr.read().decode(errors="replace")  # before wait: never a full pipe
    # wait4, not Popen.wait: the rusage of this one child, whatever else ran before it.
    _pid, status, usage = os.wait4(process.pid, 0)
    process.stderr.close()
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "wall": time.perf_counter() - started,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stderr": stderr,
    }


_SNAPSHOT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT[\d-]+Z")
_SUMMARY_NUMBER = re.compile(r'"(requests_sent|reads_skipped|targets)": (\d+)')


def summary_numbers(report: Path) -> dict[str, int]:
    """`requests_sent`, `reads_skipped` and `targets` from the head of a gzipped JSON report
    (its summary comes before the findings: the whole report is never parsed)."""
    with gzip.open(report, "rt", encoding="utf-8") as fh:
        head = fh.read(64 * 1024)
    found: dict[str, int] = {}
    for name, number in _SUMMARY_NUMBER.findall(head):
        found.setdefault(name, int(number))
    return found


def sarif_results(report: Path) -> int:
    with gzip.open(report, "rt", encoding="utf-8") as fh:
        return sum(len(run["results"]) for run in json.load(fh)["runs"])


def audit(env: dict[str, str], repo: Path, evidence: Path) -> dict[str, Any]:
    """One audit with --evidence, as a user runs it; what it cost and what it wrote."""
    command = [
        sys.executable, "-m", "reconciler", "audit", str(repo), "--evidence", str(evidence),
        "--format", "sarif", "--out", str(evidence.parent / f"{evidence.name}.sarif"),
        "--quiet", "--allow-unknown",
    ]  # fmt: skip
    row = command_process(command, env)
    stderr = row.pop("stderr")
    if row["exit"] not in (0, 2):
        raise RuntimeError(f"audit exited {row['exit']}:\n{stderr[-2000:]}")
    row |= summary_numbers(evidence / "audit.json.gz")
    # The snapshot's name is its start time: named by its role, so two runs line up.
    row["files"] = {
        _SNAPSHOT_TIME.sub("<snapshot>", path.name): path.stat().st_size
        for path in sorted(evidence.rglob("*"))
        if path.is_file()
    }
    row["sarif_results"] = sarif_results(evidence / "audit.sarif.gz")
    return row


def _sandbox_config(env: dict[str, str], changes: dict[str, Any] | None = None) -> dict[str, Any]:
    url = env["ZOOM_API_URL"].removesuffix("/v2") + "/_sandbox/config"
    data = None if changes is None else json.dumps(changes).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "PATCH")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:
        config: dict[str, Any] = json.load(answer)
    return config


def lock_unpaced(env: dict[str, str], repo: Path) -> float:
    """The remedy loop's export and apply with the sandbox's limits off (they are not what is
    measured), then the limits as they were; its wall seconds."""
    saved = _sandbox_config(env)
    off = {
        "rate_limits": dict.fromkeys(saved["rate_limits"]),
        "latency_ms": 0.0,
        "jitter_ms": 0.0,
    }
    _sandbox_config(env, off)
    started = time.perf_counter()
    try:
        lock_with_remedy(env, repo, PACK)
    finally:
        _sandbox_config(env, {key: saved[key] for key in off})
    return time.perf_counter() - started


def measure(
    users: int, rate: float | None, latency: float, jitter: float, lock: bool
) -> dict[str, Any]:
    paced = rate is not None
    options = sandbox_options(
        users, latency if paced else 0, jitter if paced else 0, str(rate) if paced else "off"
    )
    row: dict[str, Any] = {"users": users, "rate": rate}
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_repo(repo)
        started = time.perf_counter()
        with sandbox_process(*options, timeout=1800) as env:
            row["sandbox_start"] = time.perf_counter() - started
            row["before"] = audit(env, repo, Path(scratch) / "evidence-before")
            if lock:
                row["lock_wall"] = lock_unpaced(env, repo)
                row["after"] = audit(env, repo, Path(scratch) / "evidence-after")
    return row


def _floor(run: dict[str, Any], rate: float | None) -> tuple[str, str]:
    if rate is None:
        return "-", "-"
    floor = run["requests_sent"] / rate
    return f"{floor:.0f}", f"{run['wall'] / floor:.2f}"


def print_table(rows: list[dict[str, Any]], latency: float, jitter: float) -> None:
    print("\nCIS audit with --evidence DIR --format sarif, generated tenant (8 groups, seed 2)")
    head = (
        f"{'users':>7} {'audit':<7}{'rate/s':>7}{'wall s':>8}{'floor s':>9}{'wall/fl':>8}"
        f"{'requests':>10}{'inferred':>10}{'peak MB':>9}{'SARIF res':>10}{'bundle MB':>10}"
    )
    print(head)
    for row in rows:
        for stage in ("before", "after"):
            if stage not in row:
                continue
            run = row[stage]
            floor, ratio = _floor(run, row["rate"])
            shown_rate = "off" if row["rate"] is None else f"{row['rate']:.0f}"
            print(
                f"{row['users']:>7} {stage:<7}{shown_rate:>7}{run['wall']:>8.0f}{floor:>9}"
                f"{ratio:>8}{run['requests_sent']:>10}{run.get('reads_skipped', 0):>10}"
                f"{run['peak_rss_mb']:>9.0f}{run['sarif_results']:>10}"
                f"{sum(run['files'].values()) / 1e6:>10.1f}"
            )
    print("\nbefore: the tenant as generated; after: once export --remedy and apply --yes --force")
    print("locked the account (run with the sandbox's limits off). inferred: user family reads")
    print(f"not sent, inferred from locks. Paced rows: {latency:.0f} +- {jitter:.0f} ms latency;")
    print("'off': rate limit and latency off (the floor at 60/s would be over ~15 minutes).")
    print("A size above --lock-up-to has no 'after' row (the remedy loop is not run).")
    for row in rows:
        locked = f"; export + apply {row['lock_wall']:.0f} s" if "lock_wall" in row else ""
        print(
            f"\n{row['users']} users: {row['before']['targets']} targets; sandbox up in "
            f"{row['sandbox_start']:.0f} s{locked}"
        )
        stages = [stage for stage in ("before", "after") if stage in row]
        names = sorted(set().union(*(row[stage]["files"] for stage in stages)))
        print(f"   {'evidence file':<40}" + "".join(f"{stage + ' MB':>10}" for stage in stages))
        for name in names:
            sizes = "".join(f"{row[stage]['files'].get(name, 0) / 1e6:>10.2f}" for stage in stages)
            print(f"   {name:<40}{sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--rate", type=float, default=60.0, help="the sandbox's MEDIUM req/s")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=30.0)
    parser.add_argument("--paced-up-to", type=int, default=10000, help="users; above: limit off")
    parser.add_argument("--lock-up-to", type=int, default=10000, help="users; above: no after")
    parser.add_argument("--since", action="store_true", help="also --since at the largest size")
    args = parser.parse_args()
    rows = []
    for users in args.users:
        rate = args.rate if users <= args.paced_up_to else None
        lock = users <= args.lock_up_to
        rows.append(measure(users, rate, args.latency_ms, args.jitter_ms, lock))
        print(json.dumps(rows[-1]), flush=True)  # each size as it ends: a long run shows progress
    print_table(rows, args.latency_ms, args.jitter_ms)
    if args.since:
        big = max(args.users)
        print(f"\n--since over two {big}-user snapshots, 100 users changed")
        print(f"   {json.dumps(since_benchmark(users=big, changed=100))}")


if __name__ == "__main__":
    main()
