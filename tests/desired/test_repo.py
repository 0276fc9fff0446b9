"""Loading a whole repo: the example's desired state, defaults, and repo-wide rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import Source, load_repo
from reconciler.errors import ConfigError, ValidationFailed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
ACME_USERS = [f"{name}@acme.test" for name in [*NAMES, "mallory", "niaj"]]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as failed:
        load_repo(root)
    assert all(isinstance(found, ConfigError) for found in failed.value.problems)
    return [str(found) for found in failed.value.problems]


def test_the_example_matches_the_sandbox_tenant() -> None:
    state = load_repo(EXAMPLE)
    assert sorted(state.users) == ACME_USERS
    assert sorted(state.groups) == ["Engineering", "Sales", "Support"]
    assert {g.members.priority for g in state.groups.values() if g.members} == {10, 20, 30}
    assert state.options.rate_tier == "business"
    assert state.defaults_file == "defaults.yaml"
    layers = [state.defaults, *(p.settings for p in state.profiles())]
    layers += [user.settings for user in state.users.values()]
    assert {family for layer in layers for family in layer.families} == {
        "general", "meeting_authentication", "recording_authentication", "meeting_security",
    }  # fmt: skip


def test_account_settings_and_locks_with_sources() -> None:
    account = load_repo(EXAMPLE).account
    assert account is not None
    assert account.locks.values == {
        "general": {"schedule_meeting": {"join_before_host": True}},
        "meeting_security": {"waiting_room": True},
    }
    assert account.locks.sources["meeting_security"]["waiting_room"] == Source(
        "account.yaml", 33, 5
    )
    assert account.settings.values["meeting_authentication"]["authentication_options"] == {
        "Sign in to Zoom": {"type": "enforce_login", "default_option": True},
        "Sign in to Zoom with specified domains": {
            "type": "enforce_login_with_domains",
            "domains": "acme.test",
        },
    }


def test_a_user_file_holding_only_settings_is_complete(tmp_path: Path) -> None:
    write(tmp_path, {"users/Zed@Acme.test.yaml": "meeting_security:\n  waiting_room: false\n"})
    user = load_repo(tmp_path).users["zed@acme.test"]
    assert user.file == "users/Zed@Acme.test.yaml"
    assert user.settings.values == {"meeting_security": {"waiting_room": False}}
    assert user.settings.families == ("meeting_security",)


def test_an_empty_repo_and_an_empty_reconciler_yaml_are_fine(tmp_path: Path) -> None:
    write(tmp_path, {"reconciler.yaml": "# all defaults\n"})
    state = load_repo(tmp_path)
    assert (state.account, state.groups, state.users, state.defaults_file) == (None, {}, {}, None)
    assert state.options.max_file_bytes == 256 * 1024


def test_a_file_of_empty_mappings_manages_nothing_and_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {
        "users/a@acme.test.yaml": "settings:\n  in_meeting: {}\nmeeting_security: {}\n",
        "users/b@acme.test.yaml": "user: b@acme.test\n",
        "groups/G.yaml": "group: G\nlocks: {}\nmembers:\n  priority: 5\n  settings: {}\n",
    })  # fmt: skip
    nothing = (
        ":1:1: the file sets no setting and no lock, so it would manage nothing"
        " (hint: add settings, or delete it)"
    )
    assert problems(tmp_path) == [
        f"groups/G.yaml{nothing}",
        f"users/a@acme.test.yaml{nothing}",
        f"users/b@acme.test.yaml{nothing}",
    ]


def test_one_lock_or_one_profile_setting_is_enough(tmp_path: Path) -> None:
    write(tmp_path, {
        "groups/A.yaml": "locks:\n  in_meeting:\n    chat: false\n",
        "groups/B.yaml": "members:\n  priority: 5\n  meeting_security:\n    waiting_room: true\n",
    })  # fmt: skip
    assert sorted(load_repo(tmp_path).groups) == ["A", "B"]


def test_group_name_and_id_come_from_the_file(tmp_path: Path) -> None:
    write(tmp_path, {
        "groups/customer-success.yaml": (
            "group: Customer Success\nid: AbC123\nsettings:\n  recording:\n"
            "    cloud_recording: true\n"
        ),
        "groups/Ops.yaml": "settings:\n  in_meeting:\n    chat: true\n",
    })  # fmt: skip
    groups = load_repo(tmp_path).groups
    assert [(g.name, g.id, g.file) for g in groups.values()] == [
        ("Ops", None, "groups/Ops.yaml"),
        ("Customer Success", "AbC123", "groups/customer-success.yaml"),
    ]


def test_users_differing_only_in_case_are_one_user(tmp_path: Path) -> None:
    write(tmp_path, {
        "users/Ann@acme.test.yaml": "settings:\n  in_meeting:\n    chat: true\n",
        "users/ann@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
    })  # fmt: skip
    assert problems(tmp_path) == [
        "users/ann@acme.test.yaml:1:1: the same user as users/Ann@acme.test.yaml (emails ignore"
        " case) (hint: keep one file per user)"
    ]


def test_defaults_file_must_stay_inside_the_repo(tmp_path: Path) -> None:
    write(tmp_path, {"reconciler.yaml": "defaults_file: ../outside.yaml\n"})
    assert problems(tmp_path) == [
        "reconciler.yaml:1:16: defaults_file: '../outside.yaml' is not a usable defaults file"
        " (hint: a .yaml path inside the repo, outside groups/ and users/)"
    ]


def test_problems_of_every_file_are_collected_and_sorted(tmp_path: Path) -> None:
    write(tmp_path, {
        "users/b@acme.test.yaml": "settings:\n  in_meeting:\n    chat: on\n    polling: yes\n",
        "users/a@acme.test.yaml": "meeting_security:\n  waiting_room: off\n",
        "account.yaml": "settings:\n  in_meeting:\n    chat: [true]\n",
    })  # fmt: skip
    assert [found.split(": ")[0] for found in problems(tmp_path)] == [
        "account.yaml:3:11",
        "users/a@acme.test.yaml:2:17",
        "users/b@acme.test.yaml:3:11",
        "users/b@acme.test.yaml:4:14",
    ]
