"""Golden cases: each broken repo in tests/cases/invalid/ fails with exactly its expected.txt."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

CASES = Path(__file__).resolve().parent.parent / "cases" / "invalid"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
CASE_NAMES = sorted(path.name for path in CASES.iterdir() if (path / "repo").is_dir())


def validate(where: Path, *args: str, github: bool = False) -> tuple[int, str]:
    """`reconciler validate ARGS` run in `where`: exit code and stdout+stderr as a user sees it."""
    env = {"GITHUB_ACTIONS": "true" if github else None}
    with contextlib.chdir(where):
        result = CliRunner().invoke(cli, ["validate", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASE_NAMES) >= 40


@pytest.mark.parametrize("name", CASE_NAMES)
def test_invalid_case(name: str) -> None:
    case = CASES / name
    code, output = validate(case, "repo")
    assert output == (case / "expected.txt").read_text(encoding="utf-8")
    assert code == 1


def test_example_repo_is_valid_and_breaks_five_policy_rules_on_purpose() -> None:
    code, output = validate(EXAMPLE.parent, "acme")
    assert code == 3  # the files are valid; what they ask for breaks policy rules
    where = [line.split(": ", 2)[:2] for line in output.splitlines()[:-1]]
    assert where == [
        ["account.yaml:28:3", "account"],
        ["groups/Engineering.yaml:7:5", "group Engineering"],
        ["groups/Engineering.yaml:17:7", "members of group Engineering"],
        ["users/heidi@acme.test.yaml:5:5", "user heidi@acme.test"],
        ["users/mallory@acme.test.yaml:6:5", "user mallory@acme.test"],
    ]
    assert output.splitlines()[-1] == "5 policy violations in what the repo asks for"


def test_github_actions_annotations() -> None:
    code, output = validate(CASES / "49-problems-in-many-files", "repo", github=True)
    assert code == 1
    assert output.splitlines()[:4] == [
        "account.yaml:3:11: settings.in_meeting.chat: expected true or false, got the string 'on'"
        " (hint: use true or false: YAML 1.2 reads on/off/yes/no as strings)",
        "::error file=repo/account.yaml,line=3,col=11::settings.in_meeting.chat: expected true or"
        " false, got the string 'on' (hint: use true or false: YAML 1.2 reads on/off/yes/no as"
        " strings)",
        "groups/Support.yaml:3:21: settings.in_meeting.screen_sharing: expected true or false,"
        " got the string 'maybe'",
        "::error file=repo/groups/Support.yaml,line=3,col=21::settings.in_meeting.screen_sharing:"
        " expected true or false, got the string 'maybe'",
    ]


def test_missing_folder_is_an_error_not_a_usage_error(tmp_path: Path) -> None:
    code, output = validate(tmp_path, "nowhere")
    assert (code, output) == (
        1,
        "nowhere: not a directory (hint: give the folder of the settings repo)\n1 problem\n",
    )
