"""`policy test` checks each remedy against what Zoom's PATCH schemas let each level of the rule
set (or a lock above reach), unless the rule says where to set it by hand (`portal:`)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

PACK = """\
pack: ours
title: Ours
rules:
  - id: ours-no-video-backgrounds
    title: No video backgrounds
    severity: low
    rationale: Because.
    levels: [group]
    expr: settings.in_meeting.virtual_background_settings.allow_videos == false
    remedy:
      settings: {{in_meeting: {{virtual_background_settings: {{allow_videos: false}}}}}}
{portal}"""


def policy_test(tmp_path: Path, portal: str) -> tuple[int, str]:
    pack = tmp_path / "ours.yaml"
    pack.write_text(PACK.format(portal=portal), encoding="utf-8")
    done = CliRunner().invoke(cli, ["policy", "test", str(pack)])
    return done.exit_code, done.output


def test_a_remedy_no_api_can_set_for_a_level_is_a_problem(tmp_path: Path) -> None:
    code, output = policy_test(tmp_path, "")
    assert code == 1
    assert (
        f"{tmp_path / 'ours.yaml'}:4: ours-no-video-backgrounds: remedy"
        " settings.in_meeting.virtual_background_settings.allow_videos cannot be set for a group"
        " through Zoom's API (no such field in its PATCH, and no lock above covers it) (hint: say"
        " where an admin sets it by hand with `portal:`, or leave group out of the rule's levels)"
    ) in output.splitlines()


def test_a_portal_place_makes_it_a_known_manual_step(tmp_path: Path) -> None:
    code, output = policy_test(tmp_path, '    portal: "Groups > the group > Meeting"\n')
    assert "cannot be set" not in output
    assert code == 0, output
