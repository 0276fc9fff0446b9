"""The planner against the sandbox, at the HTTP boundary only: what it reads, what it would send,
and that sending it converges (a second plan has nothing pending)."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.connect import Connector
from reconciler.plan.model import Plan
from reconciler.sandbox import SandboxApp, SandboxConfig, generate_tenant
from reconciler.sandbox.config import BUSINESS_RATES
from reconciler.sandbox.tenant import Tenant
from tests.plan.sandbox_repo import (
    SANDBOX,
    api_calls,
    apply_plan,
    commit_all,
    git,
    git_repo,
    plan_repo,
    prepare_sandbox,
    recording,
    send_requests,
)
from tests.plan.test_cases import CASE_NAMES, CASES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
ACME_ACTIVE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
ACME_ACTIVE += ["judy", "mallory", "niaj"]


def _repo(tmp_path: Path, source: Path = EXAMPLE) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(source, repo)
    return repo


FAST = 10_000.0  # requests/s: the client does not pace (the sandbox's limits are off too)
UNLIMITED = SandboxConfig().with_changes({"rate_limits": dict.fromkeys(BUSINESS_RATES)})


async def _fresh(repo: Path, setup: list[dict[str, Any]] | None = None) -> None:
    await prepare_sandbox(repo, setup, config=UNLIMITED)


async def _plan(
    repo: Path, *selectors: str, changed_since: str | None = None, connector: Connector = SANDBOX
) -> Plan:
    return await plan_repo(
        repo, *selectors, changed_since=changed_since, rate=FAST, connector=connector
    )


def _selectors(case: Path) -> list[str]:
    path = case / "args.txt"
    args = path.read_text().splitlines() if path.exists() else []
    return [value for flag, value in itertools.pairwise(args) if flag == "--target"]


def _sent(plan: Plan) -> list[tuple[str, str, dict[str, str], object]]:
    return [(r.method, f"/v2{r.path}", r.query, r.body) for r in plan.requests]


async def test_plan_reads_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    await _fresh(repo)
    apps: list[SandboxApp] = []
    plan = await _plan(repo, connector=recording(apps))
    journal = apps[0].sandbox.journal.entries()
    calls = api_calls(journal)
    assert plan.requests and {entry.method for entry in calls} == {"GET"}
    assert len(journal) == len(calls) + 1 == plan.summary.requests_sent  # and the token's


async def test_apply_sends_exactly_the_plans_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    await _fresh(repo)
    plan = await _plan(repo)
    apps: list[SandboxApp] = []
    await apply_plan(plan, repo, tmp_path / "audit.log", rate=FAST, connector=recording(apps))
    patches = [e for e in apps[0].sandbox.journal.entries() if e.method == "PATCH"]
    sent = [(e.method, e.path, e.query, e.body) for e in patches]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, _sent(plan)))
    assert {e.status for e in patches} == {204}


async def _converges(repo: Path, selectors: Sequence[str] = ()) -> None:
    first = await _plan(repo, *selectors)
    await send_requests(repo, first.requests)
    second = await _plan(repo, *selectors)
    assert [c for c in second.changes if c.status == "pending"] == []
    assert second.requests == []
    blocked = {(c.target, c.option, c.path) for c in first.blocked}
    assert {(c.target, c.option, c.path) for c in second.blocked} <= blocked


def _made_a_plan(case: Path) -> bool:
    """The case's saved plan is a plan, not a failed run's report (its `error`)."""
    saved = case / "expected.json"
    return saved.exists() and "error" not in json.loads(saved.read_text())


CONVERGING = [
    name
    for name in CASE_NAMES
    if _made_a_plan(CASES / name)
    and not (CASES / name / "fail.json").exists()
    and not (CASES / name / "base").exists()
]


@pytest.mark.parametrize("name", CONVERGING)
async def test_sending_the_plan_converges(name: str, tmp_path: Path) -> None:
    case = CASES / name
    repo = _repo(tmp_path, case / "repo")
    setup = case / "setup.json"
    await _fresh(repo, json.loads(setup.read_text()) if setup.exists() else None)
    await _converges(repo, _selectors(case))


async def test_changed_since_one_user_sends_few_requests(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git_repo(repo)
    commit_all(repo, "acme")
    user = repo / "users" / "frank@acme.test.yaml"
    user.write_text(user.read_text() + "  in_meeting:\n    chat: false\n")
    await _fresh(repo)
    plan = await _plan(repo, changed_since="HEAD")
    assert {c.target.email for c in plan.changes} == {"frank@acme.test"}
    assert plan.summary.targets_skipped_unchanged == 15  # account, 3 groups, 11 other users
    assert plan.summary.requests_sent < 11  # the token and fewer than 10 reads


GENERATED_REPO = {
    "reconciler.yaml": "rate_tier: business\n",
    "defaults.yaml": (
        "settings:\n  in_meeting:\n    chat: true\n    polling: false\n"
        "  recording:\n    auto_recording: none\n"
        "meeting_security:\n  waiting_room: true\n  meeting_password_requirement:\n"
        "    length: 8\n"
    ),
    "account.yaml": "settings:\n  in_meeting:\n    file_transfer: false\n",
    "groups/Engineering.yaml": (
        "settings:\n  in_meeting:\n    annotation: false\n"
        "locks:\n  in_meeting:\n    annotation: true\n"
        "members:\n  priority: 10\n  settings:\n    in_meeting:\n      breakout_room: true\n"
    ),
    "groups/Sales.yaml": (
        "members:\n  priority: 20\n  settings:\n    recording:\n      auto_recording: local\n"
        "  meeting_authentication:\n    meeting_authentication: true\n"
    ),
}


def _generated_repo(tmp_path: Path, tenant: Tenant) -> Path:
    repo = tmp_path / "repo"
    files = dict(GENERATED_REPO)
    active = [user for user in tenant.users if user.status == "active"]
    for user in active[:5]:
        files[f"users/{user.email}.yaml"] = (
            "settings:\n  in_meeting:\n    polling: true\n"
            "meeting_security:\n  waiting_room_settings:\n"
            "    participants_to_place_in_waiting_room: 1\n"
        )
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    return repo


async def test_a_generated_tenant_of_200_users_converges(tmp_path: Path) -> None:
    tenant = generate_tenant(users=200, groups=4, seed=11)
    repo = _generated_repo(tmp_path, tenant)
    await prepare_sandbox(repo, tenant=tenant, config=UNLIMITED)
    first = await _plan(repo)
    active = sum(user.status == "active" for user in tenant.users)
    assert first.summary.targets == active + 3  # the account and two groups
    assert len(first.requests) > 100
    await _converges(repo)


async def test_a_family_locked_above_at_the_desired_value_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, CASES / "12-reads-skipped-when-locked-above" / "repo")
    await _fresh(repo)
    apps: list[SandboxApp] = []
    plan = await _plan(repo, connector=recording(apps))
    tenant = apps[0].sandbox.tenant
    alice, bob = tenant.user("alice@acme.test"), tenant.user("bob@acme.test")
    assert alice is not None and bob is not None
    reads = [
        (e.path, e.query.get("option"))
        for e in api_calls(apps[0].sandbox.journal.entries())
        if e.path.startswith("/v2/users/") and e.path.endswith("/settings")
    ]
    # Bob's chat is free, so his general settings are read; nothing else of a user is.
    assert reads == [(f"/v2/users/{bob.id}/settings", None)]
    assert plan.summary.reads_skipped_locked == 13
    assert alice.id not in json.dumps(reads)


async def test_changed_defaults_reach_every_user_and_a_removed_file_its_user(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    git_repo(repo)
    commit_all(repo, "acme")
    defaults = repo / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("private_chat: false", "private_chat: true"))
    (repo / "users" / "bob@acme.test.yaml").unlink()
    await _fresh(repo)
    plan = await _plan(repo, changed_since="HEAD")
    changed = {(c.target.email, ".".join(c.path)) for c in plan.changes if c.target.email}
    reached = {email for email, path in changed if path == "in_meeting.private_chat"}
    assert reached == {f"{name}@acme.test" for name in ACME_ACTIVE}
    # Bob's own file asked for chat off; without it, the defaults' chat on applies again.
    assert ("bob@acme.test", "in_meeting.chat") in changed
    assert plan.summary.targets_skipped_unchanged == 4  # the account and the three groups


async def test_the_sandbox_state_does_not_make_the_repo_dirty(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git_repo(repo)
    (repo / ".gitignore").unlink()
    commit_all(repo, "acme")
    await _fresh(repo)
    plan = await _plan(repo, "account")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert plan.repo_commit == head
    (repo / "account.yaml").write_text((repo / "account.yaml").read_text() + "\n")
    assert (await _plan(repo, "account")).repo_commit == f"{head}+dirty"


async def test_a_scoped_run_meets_zooms_locks_not_the_repos_pending_ones(tmp_path: Path) -> None:
    # The repo adds a group lock that Zoom does not have yet. A full run applies it before the
    # users, so Alice's different value is BLOCKED; a run scoped to Alice leaves the group alone,
    # so Zoom will take her value and the plan says so.
    repo = _repo(tmp_path)
    group = repo / "groups" / "Engineering.yaml"
    text = group.read_text()
    text = text.replace(
        "    file_transfer: true\nlocks:\n",
        "    file_transfer: true\n    polling: false\nlocks:\n  in_meeting:\n    polling: true\n",
        1,
    )
    group.write_text(text)
    alice_off = {"in_meeting": {"polling": False}}
    await _fresh(
        repo, [{"method": "PATCH", "path": "/v2/users/{user:alice}/settings", "body": alice_off}]
    )
    full = await _plan(repo)
    scoped = await _plan(repo, "user:alice@acme.test")

    def polling(plan: Plan) -> list[tuple[str, str | None]]:
        return [
            (c.status, c.reason)
            for c in plan.changes
            if c.target.email == "alice@acme.test" and c.path == ("in_meeting", "polling")
        ]

    assert polling(full) == [
        ("blocked", "locked by group Engineering, groups/Engineering.yaml:11:5: change it there")
    ]
    assert polling(scoped) == [("pending", None)]
