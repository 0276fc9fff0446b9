"""Every way of editing a saved plan of the example repo, row by row: the exit code the README's
table gives ("a saved plan for another account, another repo state, or edited": 3; a file that
is no plan of this format is bad input: 1), the one line that names the plan file, what differs
and what to do, nothing on stdout (no "No changes" over a plan that holds 82), and no PATCH in
the sandbox's journal."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan.model import checksum
from reconciler.sandbox.acme import stable_id
from tests.apply.conftest import Served, reconciler
from tests.apply.test_cli import save_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
ALICE = "alice@acme.test"
AGAIN = "it was edited; plan again"
Data = dict[str, Any]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(EXAMPLE, tmp_path / "repo", ignore=shutil.ignore_patterns(".reconciler"))
    )


def requests_of(data: Data, email: str) -> list[Data]:
    return [r for r in data["requests"] if r["target"]["email"] == email]


def alice_general(data: Data) -> Data:
    return next(r for r in requests_of(data, ALICE) if r["option"] is None)


def change_at(data: Data, email: str, path: list[str]) -> Data:
    return next(c for c in data["changes"] if (c["target"]["email"], c["path"]) == (email, path))


SHARE = ["in_meeting", "who_can_share_screen"]


def summary_says_nothing(data: Data) -> None:
    summary = data["summary"]
    summary.update(changes_pending=0, changes_blocked=0, targets_with_changes=0)
    summary["targets_in_sync"] = summary["targets"]


def value_edited(data: Data) -> None:
    change_at(data, ALICE, SHARE)["after"] = "all"
    alice_general(data)["body"]["in_meeting"]["who_can_share_screen"] = "all"


def added(data: Data, target: Data, path: list[str], value: Any) -> None:
    """A pending change and its PATCH for `target`, with the summary counting them."""
    new_target = all(c["target"]["id"] != target["id"] for c in data["changes"])
    data["changes"].append(
        {
            "target": target,
            "option": None,
            "path": path,
            "before": not value,
            "after": value,
            "source": "users/x.yaml:1:1",
            "status": "pending",
            "reason": None,
            "locks": False,
            "before_known": True,
        }
    )
    body: Data = {path[0]: {path[1]: value}}
    request = {"target": target, "option": None, "writes": "settings", "method": "PATCH"}
    request.update(path=f"/users/{target['id']}/settings", query={}, body=body, fields=[path])
    data["requests"].append(request)
    summary = data["summary"]
    summary["changes_pending"] += 1
    summary["targets"] += new_target
    summary["targets_with_changes"] += new_target


def user(name: str, user_id: str | None = None) -> Data:
    """A plan's target: an Acme user by name, with the sandbox's id for them unless given."""
    found = user_id or stable_id("user", name)
    return {"kind": "user", "id": found, "email": f"{name}@acme.test", "name": None}


def change_for_oscar(data: Data) -> None:
    """Oscar is in Zoom, inactive; defaults.yaml asks chat on for everyone the plan covers."""
    added(data, user("oscar"), ["in_meeting", "chat"], True)


def field_nobody_manages(data: Data) -> None:
    added(data, user("bob"), ["in_meeting", "annotation"], True)


def change_for_a_stranger(data: Data) -> None:
    added(data, user("eve", "Zz0000000000000000000Q"), ["in_meeting", "chat"], True)


def request_without_change(data: Data) -> None:
    """Another user's PATCH carrying a field that no change of the plan holds."""
    bob = requests_of(data, "bob@acme.test")[0]
    chat = {"body": {"in_meeting": {"chat": True}}, "fields": [["in_meeting", "chat"]]}
    data["requests"].append({**bob, **chat})


def change_removed(data: Data) -> None:
    data["changes"].remove(change_at(data, ALICE, SHARE))


def change_and_field_removed(data: Data) -> None:
    change_removed(data)
    request = alice_general(data)
    request["fields"].remove(SHARE)
    del request["body"]["in_meeting"]["who_can_share_screen"]


def path_of_another_user(data: Data) -> None:
    alice_general(data)["path"] = requests_of(data, "bob@acme.test")[0]["path"]


def repo_digest(data: Data) -> None:
    data["repo_files"]["users/alice@acme.test.yaml"] = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Row:
    edit: Callable[[Data], None]
    recompute: bool  # the checksum made to match the edited content again
    exit: int
    message: str  # after "refused: PLAN: " (exit 3) or "error: PLAN: " (exit 1)


CHECKSUM = f"the plan's checksum does not match its content: {AGAIN}"
ROWS: dict[str, Row] = {
    "summary says no changes, checksum recomputed": Row(
        summary_says_nothing,
        True,
        3,
        "the plan's summary does not match its changes (targets_in_sync 16, its changes make 2; "
        "targets_with_changes 0, its changes make 14; changes_pending 0, its changes make 82): "
        + AGAIN,
    ),
    "summary says no changes, checksum kept": Row(summary_says_nothing, False, 3, CHECKSUM),
    "a change's value, checksum recomputed": Row(
        value_edited,
        True,
        3,
        f"the plan sets user {ALICE} [general] in_meeting.who_can_share_screen to a value the "
        "settings repo does not ask for: plan again (a saved plan can carry only the repo's own "
        "changes)",
    ),
    "a change's value, checksum kept": Row(value_edited, False, 3, CHECKSUM),
    "a change for a user no file names": Row(
        change_for_oscar,
        True,
        3,
        "the plan writes user oscar@acme.test, who is not active in Zoom, and no plan writes "
        "users who are not: plan again",
    ),
    "a change for a field no file manages": Row(
        field_nobody_manages,
        True,
        3,
        "the plan sets user bob@acme.test [general] in_meeting.annotation to a value the "
        "settings repo does not ask for: plan again (a saved plan can carry only the repo's own "
        "changes)",
    ),
    "a change for a user Zoom does not have": Row(
        change_for_a_stranger,
        True,
        3,
        "the plan's user id Zz0000000000000000000Q is not a user in Zoom: plan again",
    ),
    "a request for another user, with no change": Row(
        request_without_change,
        True,
        3,
        "the plan's request PATCH /users/dK7YbMVA1xWN8q8iuUjo7w/settings carries in_meeting.chat, "
        "which is not a pending change: it was edited; plan again",
    ),
    "a change removed, its request kept": Row(
        change_removed,
        True,
        3,
        "the plan's summary does not match its changes (changes_pending 82, its changes make "
        f"81): {AGAIN}",
    ),
    "a change and its field removed": Row(
        change_and_field_removed,
        True,
        3,
        "the plan's summary does not match its changes (changes_pending 82, its changes make "
        f"81): {AGAIN}",
    ),
    "a change removed, checksum kept": Row(change_removed, False, 3, CHECKSUM),
    "a request's path for another user": Row(
        path_of_another_user,
        True,
        3,
        "the plan's request PATCH /users/dK7YbMVA1xWN8q8iuUjo7w/settings is not the PATCH of "
        f"user {ALICE}'s general settings: plan again",
    ),
    "another account id": Row(
        lambda data: data.update(account_id="other-account"),
        True,
        3,
        "the plan was made for Zoom account 'other-account', and these credentials are for "
        "'sandbox-account': plan again with the credentials of the account to change",
    ),
    "another repo digest": Row(
        repo_digest,
        True,
        3,
        "the settings repo changed since the plan was made (users/alice@acme.test.yaml "
        "(changed)): plan again",
    ),
    "another format_version": Row(
        lambda data: data.update(format_version=1),
        False,
        1,
        "plan format 1 is not 2 or 3; plan again",
    ),
}


def saved_and_edited(repo: Path, served: Served, row: Row) -> Path:
    saved = save_plan(repo, served)
    data = json.loads(saved.read_text())
    row.edit(data)
    if row.recompute:
        data["checksum"] = checksum({k: v for k, v in data.items() if k != "checksum"})
    saved.write_text(json.dumps(data))
    return saved


def refused_whole(served: Served, repo: Path, saved: Path, exit_code: int, message: str) -> None:
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == exit_code, done.output
    head = "refused" if exit_code == 3 else "error"
    assert done.stderr == f"{head}: {saved}: {message}\n"
    assert done.stdout == ""  # nothing of the plan shown: no "No changes" over 82
    served.settle()
    assert served.patches() == []


@pytest.mark.parametrize("name", list(ROWS))
def test_an_edited_plan_is_refused_whole(name: str, served: Served, repo: Path) -> None:
    row = ROWS[name]
    saved = saved_and_edited(repo, served, row)
    refused_whole(served, repo, saved, row.exit, row.message)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: "plan = {" + text, id="not JSON"),
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
    ],
)
def test_a_file_that_is_not_a_plan_is_bad_input(
    damage: Callable[[str], str], served: Served, repo: Path
) -> None:
    saved = save_plan(repo, served)
    saved.write_text(damage(saved.read_text()))
    refused_whole(served, repo, saved, 1, "the saved plan is not JSON")


def test_the_untouched_example_plan_applies(served: Served, repo: Path) -> None:
    """The rows above fail for their edit, not for the plan: unedited, it applies."""
    saved = save_plan(repo, served)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 0, done.output
    assert "Plan: 82 changes to 14 targets, 3 blocked, 0 unknown; 2 targets in sync." in done.stdout
    assert len(served.patches()) == 36
