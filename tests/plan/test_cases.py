"""Golden plans: each case in tests/cases/plan/ is planned against a fresh Acme sandbox.

A case holds `repo/` (the settings repo), optionally `base/` (the repo at an earlier commit, for
`--changed-since`), `setup.json` (requests sent to the sandbox's API first), `fail.json` (reads
the sandbox answers with an error, see sandbox_repo.failing_reads), `args.txt` (more CLI
arguments, one a line), and the expected `expected.txt` (stdout and stderr, no colour),
`expected.json` (the saved plan, commit and checksum replaced by placeholders) and
`expected_exit`. `UPDATE_GOLDEN=1 pytest tests/plan` rewrites the expected files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.plan.model import load_plan
from tests.plan.sandbox_repo import commit_all, failing_reads, git_repo, prepare

CASES = Path(__file__).resolve().parent.parent / "cases" / "plan"
CASE_NAMES = sorted(path.name for path in CASES.iterdir() if (path / "repo").is_dir())
SAVED = "plan.json"
SAVED_NOTE = f"Saved the plan to {SAVED}\n"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _args(case: Path) -> list[str]:
    path = case / "args.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line for line in lines if line.strip()]


def _lay_out(case: Path, work: Path) -> Path:
    """The case's repo in `work/repo`, committed on top of `base/` when the case has one."""
    repo = work / "repo"
    if (case / "base").is_dir():
        shutil.copytree(case / "base", repo)
        git_repo(repo)
        commit_all(repo, "base")
        for child in repo.iterdir():
            if child.name not in (".git", ".gitignore"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(case / "repo", repo, dirs_exist_ok=True)
        commit_all(repo, "change")
    else:
        shutil.copytree(case / "repo", repo)
    return repo


def normalised(plan: dict[str, Any]) -> dict[str, Any]:
    """The saved plan without what depends on the run: the git commit, the time it was made,
    and so the checksum."""
    commit = plan["repo_commit"]
    return {
        **plan,
        "repo_commit": "<commit>" if commit else commit,
        "created_at": "<time>",
        "checksum": "<checksum>",
    }


def run_case(case: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any, int]:
    repo = _lay_out(case, work)
    prepare(repo, _read_json(case / "setup.json"))
    args = ["plan", "repo", "--sandbox", "--out", SAVED, *_args(case)]
    connector = failing_reads(repo, _read_json(case / "fail.json") or [])
    with contextlib.chdir(work):
        result = CliRunner().invoke(
            cli, args, obj=connector, env={"NO_COLOR": None}, catch_exceptions=False
        )
    saved = work / SAVED
    plan = None
    if saved.exists():
        plan = _read_json(saved)
        if "error" not in plan:  # a failed run's --out holds its report, with the error
            load_plan(saved)  # the real checksum validates
            plan = normalised(plan)
    return result.output.replace(SAVED_NOTE, ""), plan, result.exit_code


def _expect(case: Path, name: str, actual: str | None) -> None:
    path = case / name
    if UPDATE:
        if actual is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(actual, encoding="utf-8", newline="")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    assert actual == expected, f"{case.name}/{name} differs (UPDATE_GOLDEN=1 to accept)"


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASE_NAMES) >= 15


@pytest.mark.parametrize("name", CASE_NAMES)
def test_plan_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / name
    output, plan, code = run_case(case, tmp_path, monkeypatch)
    _expect(case, "expected.txt", output)
    dumped = None if plan is None else json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    _expect(case, "expected.json", dumped)
    _expect(case, "expected_exit", f"{code}\n")
