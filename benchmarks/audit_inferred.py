"""Reads in proportion to the unlocked surface: the requests of a CIS audit of a generated tenant
before and after the remedy loop has locked the account, with inference (the default) and with
`--read-all`. The sandbox runs in its own process on 127.0.0.1, rate limit off.

Steps: audit (both ways) -> `export --remedy PACK` -> `apply --yes --force` (the account's locks
land) -> audit (both ways). Each row gives the requests the audit sent (its `requests_sent`),
the user family reads it inferred from locks, the users with an inferred family, the failing
findings, the wall time, and whether the failing findings are exactly those of `--read-all`.

    python benchmarks/audit_inferred.py [--users 5000] [--groups 5] [--seed 7] [--pack NAME]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import run_reconciler as reconciler
from benchmarks._sandbox_process import sandbox_process


def audit(env: dict[str, str], repo: Path, *extra: str) -> tuple[dict[str, Any], float]:
    code, out, err, took = reconciler(
        env, "audit", str(repo), "--quiet", "--format", "json", "--allow-unknown", *extra
    )
    if code not in (0, 2):
        raise RuntimeError(f"audit exited {code}: {err.strip().splitlines()[-1:]}")
    return json.loads(out), took


def failing(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(kind, rule or field, target id) of every failing finding."""
    return {
        (f["kind"], f["rule"] or str(f["field"]), f["target"]["id"])
        for f in report["findings"]
        if f["status"] in ("fail", "drift", "unknown")
    }


def rows_for(env: dict[str, str], repo: Path, stage: str) -> list[dict[str, Any]]:
    inferred, took = audit(env, repo)
    everything, took_all = audit(env, repo, "--read-all")
    same = failing(inferred) == failing(everything)
    rows = []
    for mode, report, wall in (("inferred", inferred, took), ("--read-all", everything, took_all)):
        summary = report["summary"]
        rows.append(
            {
                "stage": stage,
                "mode": mode,
                "requests": summary["requests_sent"],
                "reads inferred": summary["inferred"]["reads_skipped"],
                "users inferred": summary["inferred"]["targets"],
                "failing": len(failing(report)),
                "wall s": f"{wall:.0f}",
                "same as --read-all": same,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pack", default="cis-zoom-1.0")
    args = parser.parse_args()
    options = ("--users", str(args.users), "--groups", str(args.groups), "--seed", str(args.seed))
    rows: list[dict[str, Any]] = []
    with (
        sandbox_process(*options, "--rate-limit", "off") as env,
        tempfile.TemporaryDirectory() as tmp,
    ):
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "reconciler.yaml").write_text(f"policies: [{args.pack}]\n", encoding="utf-8")
        rows += rows_for(env, repo, "before the remedy")
        for step in (("export", "--remedy", args.pack), ("apply", "--yes", "--force")):
            code, _out, err, _took = reconciler(env, step[0], str(repo), "--quiet", *step[1:])
            if code not in (0, 2):
                raise RuntimeError(f"{step[0]} exited {code}: {err.strip().splitlines()[-1:]}")
        rows += rows_for(env, repo, "after the remedy (account locked)")
    print(f"CIS audit ({args.pack}) of a generated {args.users}-user tenant, {args.groups} groups,")
    print(f"seed {args.seed}, sandbox rate limit off")
    columns = list(rows[0])
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(str(row[key]) for key in columns))


if __name__ == "__main__":
    main()
