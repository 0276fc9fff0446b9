"""A repo's own policy pack, named by its path in reconciler.yaml, is checked by validate at the
file:line that sets the value; a path outside policies/ is refused like an unknown name."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

OURS = """\
pack: ours
title: Our rules
rules:
  - id: no-chat
    title: Meeting chat is off
    severity: low
    rationale: We keep talk in the meeting.
    levels: [user]
    expr: settings.in_meeting.chat == false
    examples:
      pass: [{target: {level: user}, settings: {in_meeting: {chat: false}}}]
      fail: [{target: {level: user}, settings: {in_meeting: {chat: true}}}]
"""


def _repo(root: Path, policies: str) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "users").mkdir()
    (root / "reconciler.yaml").write_text(f"policies: {policies}\n")
    (root / "policies/ours.yaml").write_text(OURS)
    (root / "users/alice@acme.test.yaml").write_text("settings:\n  in_meeting:\n    chat: true\n")
    return root


def test_a_repo_pack_is_checked_by_validate(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", "[policies/ours.yaml]")
    result = CliRunner().invoke(cli, ["validate", str(repo)])
    assert result.exit_code == 3
    assert result.stdout == (
        "users/alice@acme.test.yaml:3:5: user alice@acme.test: no-chat (Meeting chat is off) "
        "fails: We keep talk in the meeting. (hint: rule ours/no-chat at policies/ours.yaml:4)\n"
    )


def test_a_pack_path_outside_policies_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", "[../ours.yaml]")
    result = CliRunner().invoke(cli, ["validate", str(repo)])
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "reconciler.yaml:1:12: policies[0]: must be 'cis-zoom-1.0' or 'zoom-security-baseline', "
        "got the string '../ours.yaml'"
    )
