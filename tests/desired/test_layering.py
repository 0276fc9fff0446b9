"""Layering: defaults < group profiles by priority < the user's own file, each leaf sourced."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import Source, effective_user_settings, load_repo
from reconciler.desired.layering import merge
from reconciler.desired.state import Settings
from reconciler.errors import ValidationFailed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_user_in_two_groups_gets_higher_priority_then_own_file() -> None:
    state = load_repo(EXAMPLE)
    wanted = effective_user_settings(state, "carol@acme.test", ["Sales", "Engineering"])
    general = wanted.values["general"]
    assert general["recording"] == {"auto_recording": "cloud"}  # Engineering 20 beats Sales 10
    assert general["schedule_meeting"] == {
        "host_video": True,  # Sales profile over the defaults
        "participants_video": True,  # carol's own file over the defaults
        "join_before_host": False,  # defaults
    }
    sources = wanted.sources["general"]
    assert sources["recording.auto_recording"] == Source("groups/Engineering.yaml", 19, 7)
    assert sources["schedule_meeting.host_video"] == Source("groups/Sales.yaml", 13, 7)
    assert sources["schedule_meeting.participants_video"] == Source(
        "users/carol@acme.test.yaml", 6, 5
    )
    assert sources["schedule_meeting.join_before_host"] == Source("defaults.yaml", 12, 5)


def test_auth_options_layer_per_option_field() -> None:
    state = load_repo(EXAMPLE)
    wanted = effective_user_settings(state, "CAROL@acme.test", ["Sales"])
    assert wanted.values["meeting_authentication"] == {
        "meeting_authentication": True,
        "authentication_options": {
            "Sign in to Zoom": {"visible": True, "default_option": True},
            "Sign in to Zoom with specified domains": {"visible": False},
        },
    }
    assert wanted.sources["meeting_authentication"][
        "authentication_options.Sign in to Zoom with specified domains.visible"
    ] == Source("users/carol@acme.test.yaml", 10, 7)


def test_user_without_file_or_groups_gets_the_defaults() -> None:
    state = load_repo(EXAMPLE)
    wanted = effective_user_settings(state, "nobody@acme.test", [])
    assert wanted.values == state.defaults.values
    assert wanted.sources == state.defaults.sources


def test_unknown_groups_are_ignored() -> None:
    state = load_repo(EXAMPLE)
    with_unknown = effective_user_settings(state, "erin@acme.test", ["Marketing", "Sales"])
    assert with_unknown == effective_user_settings(state, "erin@acme.test", ["Sales"])


def test_lists_are_replaced_whole() -> None:
    low = Settings(
        {"meeting_security": {"block_user_domain_list": ["a.example", "b.example"]}},
        {"meeting_security": {"block_user_domain_list": Source("low.yaml", 1, 1)}},
    )
    high = Settings(
        {"meeting_security": {"block_user_domain_list": ["c.example"]}},
        {"meeting_security": {"block_user_domain_list": Source("high.yaml", 2, 3)}},
    )
    merged = merge([low, high])
    assert merged.values == {"meeting_security": {"block_user_domain_list": ["c.example"]}}
    assert merged.sources["meeting_security"]["block_user_domain_list"] == Source("high.yaml", 2, 3)


def test_equal_priority_same_key_is_a_load_error(tmp_path: Path) -> None:
    profile = "members:\n  priority: 5\n  meeting_security:\n    waiting_room: true\n"
    write(tmp_path, {"groups/A.yaml": profile, "groups/B.yaml": profile})
    with pytest.raises(ValidationFailed) as failed:
        load_repo(tmp_path)
    assert [str(p) for p in failed.value.problems] == [
        "groups/B.yaml:4:5: members.meeting_security.waiting_room: also set by groups/A.yaml:4:5"
        " at the same priority (5) (hint: give one of the two profiles a higher priority,"
        " or set the key in only one)"
    ]


def test_equal_priority_different_keys_is_fine(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "groups/A.yaml": "members:\n  priority: 5\n"
            "  meeting_security:\n    waiting_room: true\n",
            "groups/B.yaml": "members:\n  priority: 5\n"
            "  settings:\n    in_meeting:\n      chat: true\n",
        },
    )
    state = load_repo(tmp_path)
    wanted = effective_user_settings(state, "x@acme.test", ["B", "A"])
    assert wanted.values == {
        "meeting_security": {"waiting_room": True},
        "general": {"in_meeting": {"chat": True}},
    }
