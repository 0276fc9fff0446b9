"""A rule's `locked` counts the target's own locks ("at this level or above"): the account's
lock on the waiting room satisfies the baseline's lobby rule, and a plan that removes that lock
introduces its failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.plan.sandbox_repo import plan_repo, prepare

BASELINE = "policies: [zoom-security-baseline]\n"


def repo_of(tmp: Path, account: str) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text(BASELINE)
    (repo / "account.yaml").write_text(account)
    prepare(repo)  # Acme: the account has the waiting room on and locked
    return repo


def lobby(findings: list[object]) -> list[str]:
    return [f.state.value for f in findings if f.rule.endswith("zsb-lobby-locked")]  # type: ignore[attr-defined]


def test_the_accounts_own_lock_satisfies_a_locked_rule(tmp_path: Path) -> None:
    repo = repo_of(tmp_path, "settings:\n  in_meeting:\n    chat: true\n")
    plan = asyncio.run(plan_repo(repo))
    assert lobby(plan.findings) == []
    assert "zoom-security-baseline/zsb-lobby-locked" not in plan.findings_left


def test_a_plan_that_unlocks_the_waiting_room_introduces_the_failure(tmp_path: Path) -> None:
    repo = repo_of(
        tmp_path,
        "meeting_security:\n  waiting_room: true\n"
        "locks:\n  meeting_security:\n    waiting_room: false\n",
    )
    plan = asyncio.run(plan_repo(repo))
    assert [(c.path, c.locks) for c in plan.pending] == [(("waiting_room",), True)]
    assert lobby(plan.findings) == ["introduced"]
