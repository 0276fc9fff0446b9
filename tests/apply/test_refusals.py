"""What apply will refuse, said before it refuses: the plan in every format, `plan
--detailed-exitcode`, `apply --dry-run`; a saved plan's part (`--target`); `--fail-on-blocked`'s
reason; and a `--changed-since` plan's BLOCKED changes split into new and pre-existing.

The CLI against the sandbox on 127.0.0.1, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply.conftest import Served, reconciler
from tests.apply.repos import BUSINESS, write_repo
from tests.apply.test_cli import (
    ALICE,
    BOB,
    BOB_GENERAL,
    ERIN,
    SMALL,
    patches,
    save_plan,
)
from tests.plan.sandbox_repo import commit_all, git_repo

LIMITED = "rate_tier: business\nsafety:\n  max_changed_targets: 2\n"
LIMIT_REASON = "3 targets change, more than max_changed_targets (2)"
HINT = "Check the plan, then apply with --force, or raise the `safety:` limits in reconciler.yaml"
# erin has file_transfer off; turning it on weakens security by the baseline's rule.
WEAKENING = {
    "reconciler.yaml": "rate_tier: business\npolicies: [zoom-security-baseline]\n",
    "users/erin@acme.test.yaml": "settings:\n  in_meeting:\n    file_transfer: true\n",
}
MALLORY_BLOCKED = "settings:\n  schedule_meeting:\n    join_before_host: true\n"
MALLORY_WHY = "locked by the account in Zoom (no file in this repo manages that lock)"


def limited(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", {**SMALL, "reconciler.yaml": LIMITED})


# -- plan ----------------------------------------------------------------------------------------


def test_a_plan_over_a_safety_limit_says_so_in_json(served: Served, tmp_path: Path) -> None:
    repo = limited(tmp_path)
    done = reconciler("plan", repo, "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["refusals"] == [
        {"code": "max_changed_targets", "reason": LIMIT_REASON}
    ]


def test_a_plan_over_a_safety_limit_says_so_in_text_and_exits_3(
    served: Served, tmp_path: Path
) -> None:
    repo = limited(tmp_path)
    done = reconciler("plan", repo, "--detailed-exitcode")
    assert done.exit_code == 3, done.output
    assert (
        "Apply will refuse this plan without --force:\n"
        f"  REFUSED max_changed_targets: {LIMIT_REASON}\n\n"
        "Plan: 7 changes to 3 targets, 0 blocked, 0 unknown; 0 targets in sync.\n"
    ) in done.stdout


def test_a_plan_over_a_safety_limit_says_so_in_the_pull_request_comment(
    served: Served, tmp_path: Path
) -> None:
    repo = limited(tmp_path)
    done = reconciler("plan", repo, "--format", "markdown", "--detailed-exitcode")
    assert done.exit_code == 3, done.output
    assert (
        "> [!CAUTION]\n"
        "> **Apply will refuse this plan without --force:**\n"
        ">\n"
        "> - `max_changed_targets`: 3 targets change, more than max\\_changed\\_targets (2)\n"
    ) in done.stdout


def test_plan_and_apply_give_the_same_reason(served: Served, tmp_path: Path) -> None:
    repo = limited(tmp_path)
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 3
    assert done.stderr == f"refused: refusing an unsafe plan: {LIMIT_REASON}. {HINT}\n"
    assert served.patches() == []


def test_a_plan_within_the_limits_has_no_refusals(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", SMALL)
    done = reconciler("plan", repo, "--format", "json", "--detailed-exitcode")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["refusals"] == []


def test_a_plan_that_weakens_security_says_apply_will_refuse_it(
    served: Served, tmp_path: Path
) -> None:
    repo = write_repo(tmp_path / "repo", WEAKENING)
    done = reconciler("plan", repo, "--format", "json", "--detailed-exitcode")
    assert done.exit_code == 3, done.output
    reason = (
        "1 change(s) weaken security by a policy rule: user erin@acme.test [general] "
        "in_meeting.file_transfer (zoom-security-baseline/zsb-file-transfer-off)"
    )
    assert json.loads(done.stdout)["refusals"] == [{"code": "weakens_security", "reason": reason}]
    applied = reconciler("apply", repo, "--yes")
    assert applied.exit_code == 3
    assert applied.stderr == f"refused: refusing an unsafe plan: {reason}. {HINT}\n"


# -- apply --dry-run ----------------------------------------------------------------------------


def test_dry_run_says_it_would_refuse_and_why(served: Served, tmp_path: Path) -> None:
    repo = limited(tmp_path)
    done = reconciler("apply", repo, "--dry-run")
    assert done.exit_code == 0, done.output
    assert done.stdout.endswith(
        f"Apply would refuse (max_changed_targets): {LIMIT_REASON}\n{HINT}.\n"
    )
    assert served.patches() == []
    forced = reconciler("apply", repo, "--dry-run", "--force")
    assert "Apply would refuse" not in forced.stdout


# -- a saved plan's part --------------------------------------------------------------------------


def test_saved_plan_with_target_applies_only_that_targets_changes(
    served: Served, tmp_path: Path
) -> None:
    repo = write_repo(tmp_path / "repo", SMALL)
    saved = save_plan(repo, served)
    done = reconciler("apply", repo, "--plan", saved, "--target", "user:bob@acme.test", "--yes")
    assert done.exit_code == 0, done.output
    assert patches(served) == [(BOB, "", BOB_GENERAL)]
    assert done.stderr.splitlines()[0] == (
        "--target: 1 of the saved plan's 7 change(s), 1 of its 4 request(s)"
    )
    again = reconciler("plan", repo, "--format", "json")
    left = {request["path"] for request in json.loads(again.stdout)["requests"]}
    assert left == {ALICE, ERIN}  # the rest of the saved plan is still to do


def test_saved_plan_with_changed_since_is_refused(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", SMALL)
    saved = save_plan(repo, served)
    done = reconciler("apply", repo, "--plan", saved, "--changed-since", "HEAD", "--yes")
    assert done.exit_code == 1
    assert done.stderr == (
        "error: --changed-since does not go with --plan: a saved plan keeps the scope it was "
        "made with (plan with --changed-since --out FILE, or pick targets of the saved plan "
        "with --target)\n"
    )
    assert served.calls() == []


# -- --fail-on-blocked ----------------------------------------------------------------------------


def test_fail_on_blocked_names_the_blocked_changes(served: Served, tmp_path: Path) -> None:
    files = {**SMALL, "users/mallory@acme.test.yaml": MALLORY_BLOCKED}
    repo = write_repo(tmp_path / "repo", files)
    done = reconciler("apply", repo, "--yes", "--fail-on-blocked")
    assert done.exit_code == 3, done.output
    assert done.stdout.endswith(
        "Converged: every change sent was read back from Zoom and matches the repo; "
        "1 BLOCKED change(s) were not sent.\n"
    )
    assert done.stderr.splitlines()[-1] == (
        "refused: --fail-on-blocked: 1 change(s) are BLOCKED, never sent: "
        "user mallory@acme.test [general] schedule_meeting.join_before_host"
    )
    again = reconciler("apply", repo, "--yes", "--fail-on-blocked")  # nothing left to send
    assert again.exit_code == 3
    assert "Converged" not in again.stdout
    assert again.stderr.splitlines()[-1] == done.stderr.splitlines()[-1]


# -- --changed-since: BLOCKED changes the change brings, and those already there ------------------


def test_changed_since_fails_only_on_blocked_changes_it_brings(
    served: Served, tmp_path: Path
) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {"reconciler.yaml": BUSINESS, "users/mallory@acme.test.yaml": MALLORY_BLOCKED},
    )
    git_repo(repo)
    commit_all(repo, "mallory's blocked change")
    # A new field in mallory's file brings her into the plan, old BLOCKED change and all.
    (repo / "users/mallory@acme.test.yaml").write_text(
        MALLORY_BLOCKED + "  in_meeting:\n    chat: false\n"
    )
    commit_all(repo, "chat off for mallory")
    old = reconciler("plan", repo, "--changed-since", "HEAD~1", "--detailed-exitcode")
    assert old.exit_code == 2, old.output  # pending, and the BLOCKED one is not this change's
    assert (
        "  ! schedule_meeting.join_before_host: false -> true   "
        f"BLOCKED (pre-existing): {MALLORY_WHY}"
    ) in old.stdout
    assert old.stdout.endswith(
        "BLOCKED at HEAD~1 too (pre-existing; they do not fail this plan): 1 of 1\n"
    )
    markdown = reconciler("plan", repo, "--changed-since", "HEAD~1", "--format", "markdown")
    assert (
        "- `schedule_meeting.join_before_host` (pre-existing): locked by the account in Zoom "
        "(no file in this repo manages that lock)"
    ) in markdown.stdout
    data = json.loads(
        reconciler("plan", repo, "--changed-since", "HEAD~1", "--format", "json").stdout
    )
    assert [c["path"] for c in data["blocked_before"]] == [["schedule_meeting", "join_before_host"]]
    (repo / "users/bob@acme.test.yaml").write_text(MALLORY_BLOCKED)
    commit_all(repo, "bob joins before the host")
    new = reconciler("plan", repo, "--changed-since", "HEAD~1", "--detailed-exitcode")
    assert new.exit_code == 3, new.output  # bob's BLOCKED change is this commit's
    assert f"BLOCKED: {MALLORY_WHY}" in new.stdout and "pre-existing" not in new.stdout


SALES_LOCKS_HOST_VIDEO = (
    "settings:\n  schedule_meeting:\n    host_video: true\n"
    "locks:\n  schedule_meeting:\n    host_video: true\n"
)
GRACE_HOST_VIDEO_OFF = "settings:\n  schedule_meeting:\n    host_video: false\n"


def test_a_lock_the_change_adds_makes_its_blocked_changes_its_own(
    served: Served, tmp_path: Path
) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {"reconciler.yaml": BUSINESS, "users/grace@acme.test.yaml": GRACE_HOST_VIDEO_OFF},
    )
    git_repo(repo)
    commit_all(repo, "grace turns her camera off")  # pending: nothing locks it in Zoom
    (repo / "groups").mkdir()
    (repo / "groups/Sales.yaml").write_text(SALES_LOCKS_HOST_VIDEO)
    (repo / "users/grace@acme.test.yaml").write_text(
        GRACE_HOST_VIDEO_OFF + "  in_meeting:\n    chat: false\n"
    )
    commit_all(repo, "Sales locks the host's camera on")
    done = reconciler("plan", repo, "--changed-since", "HEAD~1", "--detailed-exitcode")
    assert done.exit_code == 3, done.output  # grace asked for it before; the lock is new
    assert "BLOCKED: locked by group Sales, groups/Sales.yaml" in done.stdout
    assert "pre-existing" not in done.stdout
