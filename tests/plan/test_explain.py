"""`reconciler explain USER FIELD`: layers with file:line, desired and live values, locks."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.errors import ConfigError
from reconciler.plan.explain import parse_field
from tests.plan.sandbox_repo import failing_reads, plan_repo, prepare

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "acme"
CASES = ROOT / "tests" / "cases" / "plan"
LAYERING = CASES / "13-layering" / "repo"
JOIN_BEFORE_HOST = "schedule_meeting.join_before_host"


def explain(
    tmp_path: Path, *args: str, source: Path = EXAMPLE, connector: Connector | None = None
) -> tuple[int, str]:
    repo = tmp_path / "repo"
    if not repo.exists():
        shutil.copytree(source, repo)
        prepare(repo)
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(cli, ["explain", *args, "repo", "--sandbox"], obj=connector)
    return result.exit_code, result.output


def test_layers_lowest_first_with_sources_and_an_in_sync_verdict(tmp_path: Path) -> None:
    assert explain(tmp_path, "carol@acme.test", "in_meeting.breakout_room", source=LAYERING) == (
        0,
        "carol@acme.test: in_meeting.breakout_room\n"
        "Groups in Zoom: Engineering (primary), Sales\n"
        "\n"
        "Layers, lowest first (the last one wins):\n"
        "  defaults                                  false   defaults.yaml:4:5\n"
        "  group Sales members (priority 10)         false   groups/Sales.yaml:6:7\n"
        "  group Engineering members (priority 20)   true    groups/Engineering.yaml:5:7\n"
        "Desired: true   (groups/Engineering.yaml:5:7)\n"
        "Live:    true\n"
        "Locks:   none\n"
        "Plan:    in sync\n",
    )


def test_a_pending_change_of_a_general_field(tmp_path: Path) -> None:
    code, output = explain(tmp_path, "carol@acme.test", "recording.auto_recording")
    assert code == 0
    assert output == (
        "carol@acme.test: recording.auto_recording\n"
        "Groups in Zoom: Engineering (primary), Sales\n"
        "\n"
        "Layers, lowest first (the last one wins):\n"
        '  defaults                                  "none"    defaults.yaml:14:5\n'
        '  group Sales members (priority 10)         "local"   groups/Sales.yaml:15:7\n'
        '  group Engineering members (priority 20)   "cloud"   groups/Engineering.yaml:19:7\n'
        'Desired: "cloud"   (groups/Engineering.yaml:19:7)\n'
        'Live:    "none"\n'
        "Locks:   none\n"
        'Plan:    ~ "none" -> "cloud" (pending)\n'
    )


def test_blocked_by_a_group_lock_that_the_repo_manages(tmp_path: Path) -> None:
    code, output = explain(tmp_path, "heidi@acme.test", "in_meeting.screen_sharing")
    assert code == 0
    assert output.splitlines()[3:] == [
        "Layers, lowest first (the last one wins):",
        "  group Support members (priority 30)   false   groups/Support.yaml:13:7",
        "  user file                             true    users/heidi@acme.test.yaml:5:5",
        "Desired: true   (users/heidi@acme.test.yaml:5:5)",
        "Live:    false",
        "Locks:",
        "  group Support: locked in Zoom and by groups/Support.yaml:8:5; holds it at false",
        "Plan:    BLOCKED: locked by group Support, groups/Support.yaml:8:5: change it there",
    ]


def test_a_field_a_group_locks_is_live_at_the_value_the_lock_holds_as_in_the_plan(
    tmp_path: Path,
) -> None:
    """Engineering locks embed_password_in_join_link in Zoom and holds it at false; Zoom's
    answer for carol, its member, still says true. The plan takes the held value for carol's
    (she is not even read) and calls her true BLOCKED from false; explain said `Live: true`
    beside that verdict. Now it says what the plan says, and what Zoom's answer was."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    carol = repo / "users" / "carol@acme.test.yaml"
    carol.write_text(
        carol.read_text().replace(
            "    participants_video: true\n",
            "    participants_video: true\n    embed_password_in_join_link: true\n",
        )
    )
    lock = {"schedule_meeting": {"embed_password_in_join_link": True}}
    path = "/v2/groups/{group:Engineering}/lock_settings"
    prepare(repo, [{"method": "PATCH", "path": path, "body": lock}])
    plan = asyncio.run(plan_repo(repo))
    [change] = [c for c in plan.changes if c.path[-1] == "embed_password_in_join_link"]
    assert (change.target.email, change.before, change.after, change.status.value) == (
        "carol@acme.test",
        False,
        True,
        "blocked",
    )
    code, output = explain(
        tmp_path, "carol@acme.test", "schedule_meeting.embed_password_in_join_link"
    )
    assert code == 0
    assert output.splitlines()[3:] == [
        "Layers, lowest first (the last one wins):",
        "  user file   true   users/carol@acme.test.yaml:7:5",
        "Desired: true   (users/carol@acme.test.yaml:7:5)",
        "Live:    false   (held by the lock of group Engineering;"
        " Zoom's answer for this user says true)",
        "Locks:",
        "  group Engineering: locked in Zoom (no file in this repo manages that lock);"
        " holds it at false",
        "Plan:    BLOCKED: locked by group Engineering in Zoom"
        " (no file in this repo manages that lock)",
    ]


def test_blocked_by_an_account_lock_that_no_file_manages(tmp_path: Path) -> None:
    repo = CASES / "09-blocked-by-account-lock-in-zoom" / "repo"
    code, output = explain(tmp_path, "mallory@acme.test", JOIN_BEFORE_HOST, source=repo)
    assert code == 0
    assert output == (
        "mallory@acme.test: schedule_meeting.join_before_host\n"
        "Groups in Zoom: none\n"
        "\n"
        "Layers, lowest first (the last one wins):\n"
        "  user file   true   users/mallory@acme.test.yaml:4:5\n"
        "Desired: true   (users/mallory@acme.test.yaml:4:5)\n"
        "Live:    false\n"
        "Locks:\n"
        "  the account: locked in Zoom (no file in this repo manages that lock);"
        " holds it at false\n"
        "Plan:    BLOCKED: locked by the account in Zoom (no file in this repo manages that lock)\n"
    )


def test_a_lock_the_repo_lifts_no_longer_blocks(tmp_path: Path) -> None:
    repo = CASES / "11-lock-changes" / "repo"
    code, output = explain(tmp_path, "mallory@acme.test", JOIN_BEFORE_HOST, source=repo)
    assert code == 0
    assert output.splitlines()[-3:] == [
        "Locks:",
        "  the account: locked in Zoom; account.yaml:7:5 lifts the lock",
        "Plan:    ~ false -> true (pending)",
    ]


def test_a_family_prefix_and_a_lock_holding_the_desired_value(tmp_path: Path) -> None:
    code, output = explain(tmp_path, "erin@acme.test", "meeting_security.waiting_room")
    assert code == 0
    assert output == (
        "erin@acme.test: [meeting_security] waiting_room\n"
        "Groups in Zoom: Sales (primary)\n"
        "\n"
        "Layers, lowest first (the last one wins):\n"
        "  defaults   true   defaults.yaml:16:3\n"
        "Desired: true   (defaults.yaml:16:3)\n"
        "Live:    true\n"
        "Locks:\n"
        "  the account: locked in Zoom and by account.yaml:33:5; holds it at true\n"
        "Plan:    in sync: locked above at the desired value (plan skips the read)\n"
    )


def test_an_authentication_option_with_the_family_option(tmp_path: Path) -> None:
    field = "authentication_options.Sign in to Zoom with specified domains.visible"
    args = ("carol@acme.test", field, "--family", "meeting_authentication")
    code, output = explain(tmp_path, *args)
    assert code == 0
    assert output == (
        "carol@acme.test: [meeting_authentication] " + field + "\n"
        "Groups in Zoom: Engineering (primary), Sales\n"
        "\n"
        "Layers, lowest first (the last one wins):\n"
        "  user file   false   users/carol@acme.test.yaml:10:7\n"
        "Desired: false   (users/carol@acme.test.yaml:10:7)\n"
        "Live:    true\n"
        "Locks:   none\n"
        "Plan:    ~ true -> false (pending)\n"
    )


def test_a_field_no_layer_sets_and_a_lock_the_repo_adds(tmp_path: Path) -> None:
    code, output = explain(tmp_path, "erin@acme.test", "in_meeting.polling")
    assert code == 0
    assert output.splitlines()[3:] == [
        "Layers: none (no file sets this field for this user)",
        "Desired: (not managed)",
        "Live:    true",
        "Locks:",
        "  group Sales: not locked in Zoom yet; groups/Sales.yaml:24:5 locks it; holds it at true",
        "Plan:    not managed: no layer sets this field, so plan leaves it alone",
    ]


def test_a_failed_read_is_unknown_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    prepare(repo)
    rule = {
        "path": "/v2/users/{user:alice}/settings",
        "status": 404,
        "body": {"code": 1001, "message": "User does not exist: {user:alice}."},
    }
    code, output = explain(
        tmp_path, "alice@acme.test", "in_meeting.chat", connector=failing_reads(repo, [rule])
    )
    assert code == 1
    assert output.splitlines()[3:] == [
        "Layers, lowest first (the last one wins):",
        "  defaults   true   defaults.yaml:5:5",
        "Desired: true   (defaults.yaml:5:5)",
        "Live:    UNKNOWN: GET /users/haZKDg43ZzK-kgOrUpRCTw/settings, HTTP 404, Zoom code 1001:"
        " User does not exist: haZKDg43ZzK-kgOrUpRCTw.",
        "Locks:   none",
        "Plan:    UNKNOWN: the live value could not be read",
    ]


@pytest.mark.parametrize(
    ("user", "field", "message"),
    [
        (
            "alice@acme.test",
            "in_meeting.chatt",
            "error: a user's general settings have no field 'in_meeting.chatt'"
            " (hint: did you mean 'in_meeting.chat'?)\n",
        ),
        (
            "alice@acme.test",
            "meeting_security.meeting_password_requirement",
            "error: 'meeting_security.meeting_password_requirement' is a group of fields, not one"
            " field (hint: name one field inside it, e.g. consecutive_characters_length,"
            " have_letter, have_number, have_special_character, have_upper_and_lower_characters,"
            " length, ... (2 more))\n",
        ),
        (
            "alcie@acme.test",
            "in_meeting.chat",
            "error: Zoom has no user alcie@acme.test (hint: check the spelling of the email"
            " address)\n",
        ),
        (
            "oscar@acme.test",
            "in_meeting.chat",
            "error: user oscar@acme.test is inactive in Zoom (hint: activate the user first)\n",
        ),
    ],
)
def test_errors(tmp_path: Path, user: str, field: str, message: str) -> None:
    assert explain(tmp_path, user, field) == (1, message)


def test_parse_field() -> None:
    assert parse_field("in_meeting.chat") == ("general", ("in_meeting", "chat"))
    assert parse_field("settings.in_meeting.chat") == ("general", ("in_meeting", "chat"))
    assert parse_field("meeting_security.waiting_room") == ("meeting_security", ("waiting_room",))
    assert parse_field("recording_authentication.recording_authentication") == (
        "recording_authentication",
        ("recording_authentication",),
    )
    assert parse_field("authentication_options.a.b.c.visible", "meeting_authentication") == (
        "meeting_authentication",
        ("authentication_options", "a.b.c", "visible"),
    )
    with pytest.raises(ConfigError, match="no field 'recording_authentication'"):
        parse_field("recording_authentication")
