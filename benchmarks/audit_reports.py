"""How big the audit's SARIF and HTML reports are for a real account's size: a CIS audit
(`policies: [cis-zoom-1.0]`) of a generated tenant (8 groups, seed 2, rate limit off, the sandbox
in its own process on 127.0.0.1), rendered as SARIF and HTML.

GitHub code scanning takes at most 25,000 results and 10 MB gzipped per upload; the HTML report
is meant to stay under 10 MB. `in repo` says whether every SARIF location is a file that the
settings repo has (never a path inside the tool), `valid` whether the SARIF is valid against the
2.1.0 schema in ../shared/sarif, `roll-up` how far the SARIF was rolled up.

    python benchmarks/audit_reports.py [--users 2000] [--users 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from jsonschema.validators import validator_for

from benchmarks._sandbox_process import sandbox_process
from reconciler.audit.model import AuditResult
from reconciler.audit.run import run_audit
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.render import audit_html, audit_sarif

SEED, GROUPS = 2, 8
SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "sarif" / "sarif-schema-2.1.0.json"


def write_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("policies: [cis-zoom-1.0]\n")


async def _audit(repo: Path) -> AuditResult:
    state = load_repo(repo)
    async with Connector().from_env().open(repo, tier=None, rate=None, paced=False) as session:
        done = await run_audit(state, session, snapshot_dir=None)
    return done.result


def _locations(document: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [
        (
            location["physicalLocation"]["artifactLocation"].get("uriBaseId"),
            location["physicalLocation"]["artifactLocation"]["uri"],
        )
        for run in document["runs"]
        for found in run["results"]
        for location in found["locations"]
    ]


def all_in_repo(document: dict[str, Any], repo: Path) -> bool:
    """Every location is relative to the repo and names a file it has."""
    return all(
        base == "REPO" and (repo / uri).is_file() for base, uri in _locations(document)
    )


def schema_valid(document: dict[str, Any]) -> str:
    """`yes`/`no` against the SARIF 2.1.0 schema; `-` without the schema or when too big to
    check in reasonable time (GitHub refuses it anyway)."""
    if not SCHEMA.is_file() or len(document["runs"][0]["results"]) > 25_000:
        return "-"
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = validator_for(schema)(schema)
    return "no" if next(iter(validator.iter_errors(document)), None) is not None else "yes"


def measure(users: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        write_repo(repo)
        options = ["--tenant", "generated", "--users", str(users), "--groups", str(GROUPS)]
        options += ["--seed", str(SEED), "--rate-limit", "off"]
        with sandbox_process(*options, timeout=300) as env:
            os.environ.update(env)
            started = time.perf_counter()
            result = asyncio.run(_audit(repo))
            audit_s = time.perf_counter() - started
        started = time.perf_counter()
        sarif_text = io.StringIO()
        audit_sarif.render(result, sarif_text)
        sarif_s = time.perf_counter() - started
        sarif_bytes = sarif_text.getvalue().encode("utf-8")
        document = json.loads(sarif_bytes)
        started = time.perf_counter()
        html_text = io.StringIO()
        audit_html.render(result, html_text)
        html_s = time.perf_counter() - started
        run = document["runs"][0]
        return {
            "users": users,
            "targets": len(result.targets),
            "findings": len(result.findings),
            "results": len(run["results"]),
            "sarif_mb": len(sarif_bytes) / 1e6,
            "sarif_gz_mb": len(gzip.compress(sarif_bytes, 6)) / 1e6,
            "html_mb": len(html_text.getvalue().encode("utf-8")) / 1e6,
            "in_repo": all_in_repo(document, repo),
            "valid": schema_valid(document),
            "rollup": run.get("properties", {}).get("rollup", {}).get("depth", "-"),
            "audit_s": audit_s,
            "sarif_s": sarif_s,
            "html_s": html_s,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, action="append")
    args = parser.parse_args()
    rows = [measure(users) for users in args.users or [2000]]
    print(
        f"{'users':>6}{'targets':>8}{'findings':>10}{'results':>9}{'SARIF MB':>10}"
        f"{'gz MB':>8}{'HTML MB':>9}{'in repo':>8}{'valid':>6}{'roll-up':>9}{'audit s':>9}"
        f"{'SARIF s':>9}{'HTML s':>8}"
    )
    for row in rows:
        print(
            f"{row['users']:>6}{row['targets']:>8}{row['findings']:>10}{row['results']:>9}"
            f"{row['sarif_mb']:>10.1f}{row['sarif_gz_mb']:>8.2f}{row['html_mb']:>9.1f}"
            f"{'yes' if row['in_repo'] else 'no':>8}{row['valid']:>6}{row['rollup']:>9}"
            f"{row['audit_s']:>9.1f}"
            f"{row['sarif_s']:>9.1f}{row['html_s']:>8.1f}"
        )


if __name__ == "__main__":
    main()
