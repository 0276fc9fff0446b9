"""`export --managed-only` accepts drift at the layer that sets a field: the defaults file and
the groups' `members:` profiles get the one value the users they decide hold in Zoom, and a field
whose users disagree is left as it is with one warning saying how they split."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.export.test_export import run
from tests.plan.sandbox_repo import open_app, prepare_sandbox, send_all

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    """The example repo applied to its sandbox: Zoom holds what the repo says, but for the three
    changes locks above block (dave's, heidi's and mallory's)."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    asyncio.run(prepare_sandbox(repo))
    done = run("apply", str(repo), "--sandbox", "--quiet", "--yes", "--force")
    assert done.exit_code == 0, done.output
    return repo


def patch(repo: Path, *changes: tuple[str, dict[str, Any]]) -> None:
    """Foreign changes, made in Zoom behind the repo's back."""
    requests = [{"method": "PATCH", "path": path, "body": body} for path, body in changes]
    asyncio.run(send_all(open_app(repo), requests))


def chat(value: bool) -> dict[str, Any]:
    return {"in_meeting": {"chat": value}}


def plan_lines(repo: Path) -> tuple[int, list[str]]:
    done = run("plan", str(repo), "--sandbox", "--quiet", "--detailed-exitcode")
    return done.exit_code, [line for line in done.stdout.splitlines() if line.startswith("  ")]


def test_a_defaults_field_the_users_it_decides_all_moved_is_written_there(applied: Path) -> None:
    repo = applied
    defaults = (repo / "defaults.yaml").read_text()
    patch(repo, ("/v2/accounts/me/settings", chat(False)))
    done = run("export", str(repo), "--sandbox", "--quiet", "--managed-only")
    assert done.exit_code == 0, done.output
    assert done.stdout == (
        "account.yaml\n"
        "  ~ settings.in_meeting.chat: true -> false\n"
        "users/dave@acme.test.yaml\n"
        "  ~ settings.recording.cloud_recording: false -> true\n"
        "users/heidi@acme.test.yaml\n"
        "  ~ settings.in_meeting.screen_sharing: true -> false\n"
        "users/judy@acme.test.yaml\n"
        "  ~ settings.in_meeting.chat: true -> false\n"
        "users/mallory@acme.test.yaml\n"
        "  ~ settings.schedule_meeting.join_before_host: true -> false\n"
        "defaults.yaml\n"
        "  ~ settings.in_meeting.chat: true -> false\n"
        ".gitignore\n"
        "  + .reconciler/\n"
    )
    assert "warning" not in done.stderr
    assert (repo / "defaults.yaml").read_text() == defaults.replace(
        "settings:\n  in_meeting:\n    chat: true\n", "settings:\n  in_meeting:\n    chat: false\n"
    )
    assert plan_lines(repo) == (0, [])


def test_a_members_profile_field_its_members_all_moved_is_written_there(applied: Path) -> None:
    repo = applied
    support = (repo / "groups" / "Support.yaml").read_text()
    off = {"in_meeting": {"remote_support": False}}
    members = ("heidi", "ivan", "judy", "niaj")  # Support's active members
    patch(repo, *((f"/v2/users/{{user:{name}}}/settings", off) for name in members))
    done = run("export", str(repo), "--sandbox", "--quiet", "--managed-only")
    assert done.exit_code == 0, done.output
    assert done.stdout == (
        "groups/Support.yaml\n"
        "  ~ members.settings.in_meeting.remote_support: true -> false\n"
        "users/dave@acme.test.yaml\n"
        "  ~ settings.recording.cloud_recording: false -> true\n"
        "users/heidi@acme.test.yaml\n"
        "  ~ settings.in_meeting.screen_sharing: true -> false\n"
        "users/mallory@acme.test.yaml\n"
        "  ~ settings.schedule_meeting.join_before_host: true -> false\n"
        ".gitignore\n"
        "  + .reconciler/\n"
    )
    assert "warning" not in done.stderr
    assert (repo / "groups" / "Support.yaml").read_text() == support.replace(
        "      remote_support: true\n", "      remote_support: false\n"
    )
    assert plan_lines(repo) == (0, [])


def test_a_field_whose_users_disagree_is_left_with_one_warning(applied: Path) -> None:
    repo = applied
    defaults = (repo / "defaults.yaml").read_text()
    patch(
        repo,
        ("/v2/accounts/me/settings", chat(False)),
        ("/v2/users/{user:alice}/settings", chat(True)),
        ("/v2/users/{user:carol}/settings", chat(True)),
    )
    done = run("export", str(repo), "--sandbox", "--quiet", "--managed-only")
    assert done.exit_code == 0, done.output
    assert "defaults.yaml" not in done.stdout
    assert (repo / "defaults.yaml").read_text() == defaults
    assert [line for line in done.stderr.splitlines() if line.startswith("warning")] == [
        "warning: defaults.yaml:5:5 in_meeting.chat: the 10 users it decides hold 2 values in"
        " Zoom (false: 8, true: 2); not changed"
    ]
    # What the warning says is left is all the plan has: the eight users at false.
    code, lines = plan_lines(repo)
    assert code == 2
    assert lines == ["  ~ in_meeting.chat: false -> true   defaults.yaml:5:5"] * 8


def test_a_run_that_reads_only_some_users_leaves_shared_layers_alone(applied: Path) -> None:
    repo = applied
    defaults = (repo / "defaults.yaml").read_text()
    patch(repo, ("/v2/accounts/me/settings", chat(False)))
    only_alice = ("--managed-only", "--users", "alice@acme.test")
    done = run("export", str(repo), "--sandbox", "--quiet", *only_alice)
    assert done.exit_code == 0, done.output
    assert (repo / "defaults.yaml").read_text() == defaults
    assert "warning" not in done.stderr


def test_a_field_a_lock_above_covers_is_accepted_at_the_value_the_lock_holds(
    applied: Path,
) -> None:
    """Engineering locks embed_password_in_join_link at false in Zoom, while Zoom's answer for
    carol, its member, says true: the plan compares the held value, so that is what her file
    gets (her own answer would be a BLOCKED change in the next plan)."""
    repo = applied
    carol = repo / "users" / "carol@acme.test.yaml"
    own = "    participants_video: true\n"
    carol.write_text(
        carol.read_text().replace(own, own + "    embed_password_in_join_link: true\n")
    )
    lock = {"schedule_meeting": {"embed_password_in_join_link": True}}
    patch(repo, ("/v2/groups/{group:Engineering}/lock_settings", lock))
    done = run("export", str(repo), "--sandbox", "--quiet", "--managed-only")
    assert done.exit_code == 0, done.output
    assert (
        "users/carol@acme.test.yaml\n"
        "  ~ settings.schedule_meeting.embed_password_in_join_link: true -> false\n"
    ) in done.stdout
    assert "    embed_password_in_join_link: false\n" in carol.read_text()
    assert plan_lines(repo) == (0, [])
