"""The README's exit-code table is what each command does: every row has a scenario here, run
against the built-in sandbox, and every scenario has a row."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply.runlock import RunLock, run_lock_path
from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.sandbox import DEFAULT_ACCOUNT_ID
from tests.plan.sandbox_repo import (
    commit_all,
    failing_reads,
    git_repo,
    open_app,
    prepare,
    send_all,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "acme"
ROW = re.compile(r"^\| `(?P<command>[^`]+)` \| (?P<when>[^|]+?) \| (?P<exit>\d) \|$")
ALICE = "/v2/users/{user:alice}/settings"
CHAT_OFF = "settings:\n  in_meeting:\n    chat: false\n"
CHAT_ON = "settings:\n  in_meeting:\n    chat: true\n"
FILE_TRANSFER_ON = "settings:\n  in_meeting:\n    file_transfer: true\n"  # erin: off today
POLICY = {"reconciler.yaml": "policies: [zoom-security-baseline]\n"}
EXPIRED_ACK = (
    "acknowledged:\n  - target: user:alice@acme.test\n    field: settings.in_meeting.chat\n"
    "    owner: ops@acme.test\n    reason: pilot\n    expires: 2020-01-31\n"
)

LIMIT_0 = {"reconciler.yaml": "safety:\n  max_changed_targets: 0\n"}
JOIN_BEFORE_HOST = "settings:\n  schedule_meeting:\n    join_before_host: true\n"  # account-locked

Scenario = Callable[[Path], int]


def readme_rows() -> dict[tuple[str, str], int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| command | when | exit |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines():
        found = ROW.match(line)
        if found:
            rows[(found["command"], found["when"])] = int(found["exit"])
    return rows


def run(tmp: Path, *args: str, connector: Connector | None = None) -> int:
    result = CliRunner().invoke(cli, list(args), obj=connector, env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code


def repo_of(tmp: Path, files: dict[str, str] | None = None) -> Path:
    """The example repo (or `files` alone) beside a fresh Acme sandbox."""
    repo = tmp / "repo"
    if files is None:
        shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    else:
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text, encoding="utf-8")
    prepare(repo)
    return repo


def alice(tmp: Path, text: str = CHAT_OFF, **more: str) -> Path:
    return repo_of(tmp, {"users/alice@acme.test.yaml": text, **more})


def erin(tmp: Path, text: str, **more: str) -> Path:
    return repo_of(tmp, {"users/erin@acme.test.yaml": text, **more})


def unreadable_alice(repo: Path) -> Connector:
    rule = {"path": ALICE, "status": 404, "body": {"code": 1001, "message": "User gone."}}
    return failing_reads(repo, [rule])


def stale(tmp: Path) -> int:
    repo = alice(
        tmp, CHAT_OFF + "meeting_security:\n  meeting_password_requirement:\n    length: 10\n"
    )
    saved = tmp / "plan.json"
    assert run(tmp, "plan", str(repo), "--sandbox", "--out", str(saved)) == 0
    body = {"meeting_security": {"meeting_password_requirement": {"length": 8}}}
    change = {"method": "PATCH", "path": ALICE, "query": {"option": "meeting_security"}}
    asyncio.run(send_all(open_app(repo), [{**change, "body": body}]))
    return run(tmp, "apply", str(repo), "--sandbox", "--plan", str(saved), "--yes")


def edited_plan(tmp: Path) -> int:
    repo = alice(tmp)
    saved = tmp / "plan.json"
    assert run(tmp, "plan", str(repo), "--sandbox", "--out", str(saved)) == 0
    (repo / "users/alice@acme.test.yaml").write_text(CHAT_ON + "  # later\n")
    return run(tmp, "apply", str(repo), "--sandbox", "--plan", str(saved), "--yes")


def unreadable_plan(tmp: Path) -> int:
    repo = alice(tmp)
    saved = tmp / "plan.json"
    assert run(tmp, "plan", str(repo), "--sandbox", "--out", str(saved)) == 0
    saved.write_text(saved.read_text()[:100])  # a copy cut short
    return run(tmp, "apply", str(repo), "--sandbox", "--plan", str(saved), "--yes")


def since_base(tmp: Path, name: str, text: str) -> int:
    """A commit that changes one file, over a base whose mallory file is BLOCKED by a lock, and
    that brings mallory into the plan (a new field in her file)."""
    mallory = "users/mallory@acme.test.yaml"
    repo = repo_of(tmp, {mallory: JOIN_BEFORE_HOST})
    git_repo(repo)
    commit_all(repo, "base")
    (repo / mallory).write_text(JOIN_BEFORE_HOST + "  in_meeting:\n    chat: false\n")
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    commit_all(repo, "the change under review")
    return run(
        tmp, "plan", str(repo), "--sandbox", "--changed-since", "HEAD~1", "--detailed-exitcode"
    )


def locked(tmp: Path) -> int:
    repo = alice(tmp)
    with RunLock(run_lock_path(repo, DEFAULT_ACCOUNT_ID), "other-run"):
        return run(tmp, "apply", str(repo), "--sandbox", "--yes")


def not_kept(tmp: Path) -> int:
    repo = alice(tmp)
    rule = {
        "method": "PATCH",
        "path": ALICE,
        "status": 400,
        "body": {"code": 1122, "message": "Feature can only be enabled for Licensed users."},
    }
    return run(tmp, "apply", str(repo), "--sandbox", "--yes", connector=failing_reads(repo, [rule]))


SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("validate", "the repo is valid"): lambda t: run(t, "validate", str(alice(t))),
    ("validate", "what the repo asks for breaks an enabled policy rule"): lambda t: run(
        t, "validate", str(EXAMPLE)
    ),
    ("validate", "the repo has problems"): lambda t: run(
        t, "validate", str(alice(t, "settings:\n  in_meeting:\n    chat: yes\n"))
    ),
    ("plan", "the plan was made, with or without changes"): lambda t: run(
        t, "plan", str(repo_of(t)), "--sandbox"
    ),
    ("plan", "a target could not be read (UNKNOWN)"): lambda t: run(
        t, "plan", str(r := alice(t)), "--sandbox", connector=unreadable_alice(r)
    ),
    ("plan --strict", "a user file names a user who is not active in Zoom"): lambda t: run(
        t,
        "plan",
        str(alice(t, **{"users/oscar@acme.test.yaml": CHAT_OFF})),
        "--sandbox",
        "--strict",
    ),
    ("plan --detailed-exitcode", "nothing to change"): lambda t: run(
        t, "plan", str(alice(t, CHAT_ON)), "--sandbox", "--detailed-exitcode"
    ),
    ("plan --detailed-exitcode", "changes pending"): lambda t: run(
        t, "plan", str(alice(t)), "--sandbox", "--detailed-exitcode"
    ),
    ("plan --detailed-exitcode", "some changes are BLOCKED"): lambda t: run(
        t, "plan", str(repo_of(t)), "--sandbox", "--detailed-exitcode"
    ),
    ("plan --detailed-exitcode", "the plan introduces a policy violation"): lambda t: run(
        t, "plan", str(erin(t, FILE_TRANSFER_ON, **POLICY)), "--sandbox", "--detailed-exitcode"
    ),
    ("plan --detailed-exitcode", "apply would refuse the plan: over a safety limit"): lambda t: run(
        t, "plan", str(alice(t, **LIMIT_0)), "--sandbox", "--detailed-exitcode"
    ),
    (
        "plan --detailed-exitcode",
        "apply would refuse the plan: a change weakens security by an enabled policy rule",
    ): lambda t: run(
        t, "plan", str(erin(t, FILE_TRANSFER_ON, **POLICY)), "--sandbox", "--detailed-exitcode"
    ),
    (
        "plan --detailed-exitcode --changed-since",
        "changes pending, and only BLOCKED changes the base revision had too",
    ): lambda t: since_base(t, "users/alice@acme.test.yaml", CHAT_OFF),
    (
        "plan --detailed-exitcode --changed-since",
        "the change under review brings a BLOCKED change",
    ): lambda t: since_base(t, "users/bob@acme.test.yaml", JOIN_BEFORE_HOST),
    (
        "apply --plan --changed-since",
        "a saved plan keeps its scope: use `--target` to apply a part of it",
    ): lambda t: run(
        t,
        "apply",
        str(alice(t)),
        "--sandbox",
        "--plan",
        str(t / "plan.json"),
        "--changed-since",
        "HEAD",
        "--yes",
    ),
    (
        "apply",
        "every change that could be sent was applied and verified, BLOCKED ones listed",
    ): lambda t: run(t, "apply", str(repo_of(t)), "--sandbox", "--yes"),
    ("apply", "a change failed or Zoom did not keep it"): not_kept,
    ("apply", "another apply of this repo and account holds the run lock"): locked,
    ("apply", "a saved plan's change is stale"): stale,
    ("apply", "the plan is over a safety limit (without `--force`)"): lambda t: run(
        t,
        "apply",
        str(alice(t, **LIMIT_0)),
        "--sandbox",
        "--yes",
    ),
    ("apply", "a saved plan for another account, another repo state, or edited"): edited_plan,
    (
        "apply",
        "a saved plan file that is not JSON (a truncated copy) or of another `format_version`",
    ): unreadable_plan,
    (
        "apply",
        "a change weakens security by an enabled policy rule (without `--force`)",
    ): lambda t: run(t, "apply", str(erin(t, FILE_TRANSFER_ON, **POLICY)), "--sandbox", "--yes"),
    ("apply --fail-on-blocked", "some changes are BLOCKED"): lambda t: run(
        t, "apply", str(repo_of(t)), "--sandbox", "--yes", "--fail-on-blocked"
    ),
    ("explain", "the live value was read"): lambda t: run(
        t, "explain", "alice@acme.test", "in_meeting.chat", str(alice(t)), "--sandbox"
    ),
    ("explain", "the live value could not be read"): lambda t: run(
        t,
        "explain",
        "alice@acme.test",
        "in_meeting.chat",
        str(r := alice(t)),
        "--sandbox",
        connector=unreadable_alice(r),
    ),
    ("audit", "no drift, and every rule passes or its failure is acknowledged"): lambda t: run(
        t, "audit", str(alice(t)), "--sandbox", "--quiet", "--users", "bob@acme.test"
    ),
    ("audit", "drift, or a failing rule that no unexpired acknowledgement accepts"): lambda t: run(
        t, "audit", str(alice(t)), "--sandbox", "--quiet"
    ),
    ("audit", "a target could not be read, or a rule could not be judged"): lambda t: run(
        t, "audit", str(r := alice(t)), "--sandbox", "--quiet", connector=unreadable_alice(r)
    ),
    ("audit --allow-unknown", "a target could not be read, and nothing else was found"): lambda t: (
        run(
            t,
            "audit",
            str(r := alice(t)),
            "--sandbox",
            "--quiet",
            "--allow-unknown",
            "--users",
            "alice@acme.test",
            connector=unreadable_alice(r),
        )
    ),
    ("validate", "an entry of acknowledged.yaml has expired"): lambda t: run(
        t, "validate", str(alice(t, **{"acknowledged.yaml": EXPIRED_ACK}))
    ),
}


def test_every_row_of_the_readme_table_has_a_scenario_and_back() -> None:
    assert set(readme_rows()) == set(SCENARIOS)


@pytest.mark.parametrize("row", list(SCENARIOS), ids=lambda row: f"{row[0]}: {row[1]}")
def test_the_command_exits_as_the_readme_says(row: tuple[str, str], tmp_path: Path) -> None:
    assert SCENARIOS[row](tmp_path) == readme_rows()[row]
