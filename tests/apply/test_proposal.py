"""A saved plan is a proposal: a plan edited by hand (its checksum recomputed, so it loads) can
write nothing that the current repo does not ask for, for no account but its own, from no other
state of the repo. Each is refused with exit 3 and no PATCH is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan.model import checksum
from tests.apply.conftest import Served, reconciler
from tests.apply.repos import write_repo
from tests.apply.test_cli import ALICE, BOB, SMALL, save_plan

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    mallory = "settings:\n  schedule_meeting:\n    join_before_host: true\n"  # BLOCKED
    return write_repo(tmp_path / "repo", {**SMALL, "users/mallory@acme.test.yaml": mallory})


def forge(saved: Path, edit: Edit) -> Path:
    """The saved plan edited by `edit`, its checksum made to match again."""
    data = json.loads(saved.read_text())
    edit(data)
    body = {key: value for key, value in data.items() if key != "checksum"}
    data["checksum"] = checksum(body)
    saved.write_text(json.dumps(data))
    return saved


def _change(data: dict[str, Any], path: list[str]) -> dict[str, Any]:
    return next(c for c in data["changes"] if c["path"] == path)


def _request(data: dict[str, Any], path: str, option: str | None = None) -> dict[str, Any]:
    return next(r for r in data["requests"] if (r["path"], r["option"]) == (path, option))


def count(data: dict[str, Any], **more: int) -> None:
    """The summary made to count what an edit added, as a careful forger would."""
    for key, added in more.items():
        data["summary"][key] += added


def edited_value(data: dict[str, Any]) -> None:
    _change(data, ["meeting_password_requirement", "length"])["after"] = 1
    security = _request(data, ALICE, "meeting_security")
    security["body"]["meeting_security"]["meeting_password_requirement"]["length"] = 1


def extra_body_key(data: dict[str, Any]) -> None:
    _request(data, ALICE)["body"]["in_meeting"]["file_transfer"] = True


def other_users_path(data: dict[str, Any]) -> None:
    _request(data, ALICE)["path"] = BOB


def new_account_request(data: dict[str, Any]) -> None:
    target = {"kind": "account", "id": "me", "email": None, "name": None}
    change = {
        "target": target,
        "option": None,
        "path": ["in_meeting", "chat"],
        "before": False,
        "after": True,
        "source": "account.yaml:1:1",
        "status": "pending",
        "reason": None,
        "locks": False,
        "before_known": True,
    }
    data["changes"].insert(0, change)
    count(data, targets=1, targets_with_changes=1, changes_pending=1)  # one more target
    data["requests"].insert(
        0,
        {
            "target": target,
            "option": None,
            "writes": "settings",
            "method": "PATCH",
            "path": "/accounts/me/settings",
            "query": {},
            "body": {"in_meeting": {"chat": True}},
            "fields": [["in_meeting", "chat"]],
        },
    )


def secret_field(data: dict[str, Any]) -> None:
    change = dict(_change(data, ["in_meeting", "chat"]))
    change.update(path=["schedule_meeting", "pmi_password"], before=None, after="hunter2")
    data["changes"].append(change)
    count(data, changes_pending=1)
    request = _request(data, ALICE)
    request["body"]["schedule_meeting"] = {"pmi_password": "hunter2"}
    request["fields"].append(["schedule_meeting", "pmi_password"])


def delete(data: dict[str, Any]) -> None:
    _request(data, ALICE)["method"] = "DELETE"


def blocked_set_to_pending(data: dict[str, Any]) -> None:
    blocked = next(c for c in data["changes"] if c["status"] == "blocked")
    blocked["status"], blocked["reason"] = "pending", None
    count(data, changes_pending=1, changes_blocked=-1)
    data["requests"].append(
        {
            "target": blocked["target"],
            "option": None,
            "writes": "settings",
            "method": "PATCH",
            "path": f"/users/{blocked['target']['id']}/settings",
            "query": {},
            "body": {"schedule_meeting": {"join_before_host": True}},
            "fields": [["schedule_meeting", "join_before_host"]],
        }
    )


FORGERIES: dict[str, tuple[Edit, str]] = {
    "edited value": (
        edited_value,
        "the plan sets user alice@acme.test [meeting_security] "
        "meeting_password_requirement.length to a value the settings repo does not ask for",
    ),
    "extra body key": (
        extra_body_key,
        "the plan's body for user alice@acme.test [general] is not what its changes make",
    ),
    "other user's path": (
        other_users_path,
        f"the plan's request PATCH {BOB} is not the PATCH of user alice@acme.test's general",
    ),
    "new account request": (
        new_account_request,
        "the plan sets account [general] in_meeting.chat to a value the settings repo does not",
    ),
    "secret field": (
        secret_field,
        "the plan sets user alice@acme.test [general] schedule_meeting.pmi_password to a value",
    ),
    "DELETE": (delete, f"the plan's request DELETE {ALICE} is not the PATCH of"),
    "BLOCKED set to pending": (
        blocked_set_to_pending,
        "the plan sends user mallory@acme.test [general] schedule_meeting.join_before_host, "
        "which is locked by the account in Zoom",
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_plan_is_refused_and_nothing_is_sent(
    name: str, served: Served, repo: Path
) -> None:
    edit, refusal = FORGERIES[name]
    saved = forge(save_plan(repo, served), edit)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    assert done.stderr.startswith(f"refused: {saved}: {refusal}")
    assert done.stderr.endswith("plan again\n") or "plan again" in done.stderr
    assert "hunter2" not in done.output
    assert served.patches() == []


def test_a_plan_for_another_account_is_refused(served: Served, repo: Path) -> None:
    saved = forge(save_plan(repo, served), lambda data: data.update(account_id="other-account"))
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    assert done.stderr == (
        f"refused: {saved}: the plan was made for Zoom account 'other-account', and these "
        "credentials are for 'sandbox-account': plan again with the credentials of the account "
        "to change\n"
    )
    assert served.patches() == []


def test_a_plan_from_another_state_of_the_repo_names_the_files(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    (repo / "users/bob@acme.test.yaml").write_text("settings:\n  in_meeting:\n    chat: true\n")
    (repo / "users/erin@acme.test.yaml").unlink()
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    assert done.stderr == (
        f"refused: {saved}: the settings repo changed since the plan was made "
        "(users/bob@acme.test.yaml (changed), users/erin@acme.test.yaml (removed)): plan again\n"
    )
    assert served.patches() == []


def test_an_old_plan_is_refused(served: Served, repo: Path) -> None:
    saved = forge(
        save_plan(repo, served), lambda data: data.update(created_at="2020-01-01T00:00:00+00:00")
    )
    done = reconciler("apply", repo, "--plan", saved, "--yes", "--max-plan-age", "48")
    assert done.exit_code == 3, done.output
    assert done.stderr.startswith(f"refused: {saved}: the plan was made ")
    assert done.stderr.endswith(" h ago, longer than --max-plan-age (48 h): plan again\n")
    assert served.patches() == []


def test_the_untouched_plan_applies(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 0, done.output
    assert len(served.patches()) == 4
