"""The remedy loop, end to end, on generated tenants (each sandbox in its own process):

audit -> export --remedy PACK -> validate -> apply --yes --force -> audit, from a repo that holds
only `policies: [PACK]`. Prints, per tenant size: failures before and after, the rules still
failing and whether the remedy summary named each as manual, the files written (user files
apart), the PATCHes apply sent (from the sandbox's journal) and each step's exit code and time.

    python benchmarks/remedy_loop.py [--users 300 5000] [--groups 5] [--seed 7] [--pack NAME]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._sandbox_process import run_reconciler as reconciler
from benchmarks._sandbox_process import sandbox_process


def failures(report: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for finding in json.loads(report)["findings"]:
        if finding["kind"] == "policy" and finding["status"] == "fail":
            found[finding["rule"]] = found.get(finding["rule"], 0) + 1
    return found


def patches(env: dict[str, str]) -> int:
    base = env["ZOOM_API_URL"].removesuffix("/v2")
    with urllib.request.urlopen(f"{base}/_sandbox/journal", timeout=60) as answer:
        entries: list[dict[str, Any]] = json.load(answer)["entries"]
    return sum(1 for entry in entries if entry.get("method") == "PATCH")


def lock_with_remedy(env: dict[str, str], repo: Path, pack: str) -> None:
    """The loop's middle: `export --remedy PACK`, then `apply --yes --force` (the account's
    locks land in Zoom); raises with the command's last line when either fails."""
    for step in (("export", "--remedy", pack), ("apply", "--yes", "--force")):
        code, _out, err, _took = reconciler(env, step[0], str(repo), "--quiet", *step[1:])
        if code not in (0, 2):
            raise RuntimeError(f"{step[0]} exited {code}: {err.strip().splitlines()[-1:]}")


def loop(users: int, groups: int, seed: int, pack: str) -> dict[str, Any]:
    row: dict[str, Any] = {"users": users}
    options = ("--users", str(users), "--groups", str(groups), "--seed", str(seed))
    served = sandbox_process(*options, "--rate-limit", "off")
    with served as env, tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "reconciler.yaml").write_text(f"policies: [{pack}]\n", encoding="utf-8")
        code, out, _err, took = reconciler(env, "audit", str(repo), "--quiet", "--format", "json")
        row["audit"] = f"{code} ({took:.0f} s)"
        before = failures(out)
        code, _out, err, took = reconciler(env, "export", str(repo), "--quiet", "--remedy", pack)
        row["remedy"] = f"{code} ({took:.0f} s)"
        manual = {
            line.split(" ")[1].rstrip(":")
            for line in err.splitlines()
            if line.startswith(("manual: ", "left failing: "))
        }
        files = [p for p in repo.rglob("*.yaml") if "schemas" not in p.parts]
        row["files"] = len(files)
        row["user files"] = sum(1 for p in files if p.parent.name == "users")
        row["validate"] = reconciler(env, "validate", str(repo))[0]
        journal_before = patches(env)
        code, _out, err, took = reconciler(
            env, "apply", str(repo), "--yes", "--force", "--quiet"
        )
        row["apply"] = f"{code} ({took:.0f} s)"
        if code not in (0, 2):  # the one line a user acts on, so a failing row says why
            row["apply said"] = err.strip().splitlines()[-1:] or ["(nothing)"]
        row["PATCHes"] = patches(env) - journal_before
        code, out, _err, took = reconciler(env, "audit", str(repo), "--quiet", "--format", "json")
        after = failures(out)
        row["fail before"] = sum(before.values())
        row["fail after"] = sum(after.values())
        row["rules failing after"] = len(after)
        row["all named manual"] = set(after) <= manual
        row["still failing"] = ", ".join(f"{rule} x{n}" for rule, n in sorted(after.items()))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[300, 5000])
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pack", default="cis-zoom-1.0")
    args = parser.parse_args()
    rows = [loop(users, args.groups, args.seed, args.pack) for users in args.users]
    notes = ("still failing", "apply said")
    columns = [key for key in rows[0] if key not in notes]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[key]) for key in columns))
    for row in rows:
        print(f"{row['users']} users, still failing: {row['still failing'] or 'nothing'}")
        if "apply said" in row:
            print(f"{row['users']} users, apply said: {row['apply said'][0]}")


if __name__ == "__main__":
    main()
