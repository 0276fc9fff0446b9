"""The `policy` click group: `list` and `test`, through click's runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.policy.cli import policy
from tests.policy.helpers import rule_text, write

BASELINE = str(Path(__file__).resolve().parents[2] / "policies" / "zoom-security-baseline.yaml")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(policy, list(args))
    return result.exit_code, result.output


def test_policy_test_on_the_baseline_exits_0() -> None:
    code, output = run("test", BASELINE)
    assert code == 0, output
    assert output.splitlines()[-1].endswith("passed, 0 failed (1 file(s))")


def test_a_failing_example_is_one_line_at_its_file_and_line(tmp_path: Path) -> None:
    examples = (
        "\n      pass:\n        - {meeting_security: {waiting_room: false}}"
        "\n      fail:\n        - {meeting_security: {waiting_room: false}}"
        "\n      not_applicable:\n        - {meeting_security: {waiting_room: true}}"
    )
    path = write(tmp_path, "p.yaml", "pack: p\ntitle: P\nrules:\n" + rule_text(examples=examples))
    code, output = run("test", str(path))
    assert code == 1
    assert output.splitlines() == [
        f"{path}:12: r1: a pass example is fail",
        f"{path}:16: r1: a not_applicable example is pass",
        "1 passed, 2 failed (1 file(s))",
    ]


def test_an_unknown_outcome_shows_the_error(tmp_path: Path) -> None:
    examples = "\n      pass:\n        - {meeting_security: {waiting_room: 0}}"
    rule = rule_text(expr="meeting_security.waiting_room > true", examples=examples)
    path = write(tmp_path, "p.yaml", "pack: p\ntitle: P\nrules:\n" + rule)
    code, output = run("test", str(path))
    assert code == 1
    assert output.splitlines()[0].startswith(f"{path}:12: r1: a pass example is unknown (")


def test_a_file_with_problems_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "pack: p\ntitle: P\nrules:\n" + rule_text(severity="x"))
    code, output = run("test", str(path))
    assert code == 1
    assert output.splitlines() == [
        f"{path}:6:15: rules[0].severity: must be one of low, medium, high, critical, "
        "got the string 'x'",
        "0 passed, 0 failed (1 file(s))",
    ]


def test_a_field_of_no_level_is_a_problem(tmp_path: Path) -> None:
    rule = rule_text(levels="[user]", expr="settings.in_meeting.chatt == true")
    path = write(tmp_path, "p.yaml", "pack: p\ntitle: P\nrules:\n" + rule)
    code, output = run("test", str(path))
    assert code == 1
    assert output.splitlines()[0] == (
        f"{path}:9: r1: expr reads settings.in_meeting.chatt is not a field of user settings "
        "(hint: check the name, or leave user out of the rule's levels)"
    )


def test_list_prints_the_packs_title_then_one_rule_a_line() -> None:
    code, output = run("list", "--pack", "zoom-security-baseline")
    assert code == 0
    lines = output.splitlines()
    assert lines[:2] == [
        "zoom-security-baseline: Zoom security baseline (15 rules)",
        "  zsb-waiting-room\thigh\t-\tgroup,account\tThe waiting room is on by default",
    ]
    assert len(lines) == 16


def test_list_defaults_to_every_shipped_pack_with_profiles() -> None:
    code, output = run("list")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].startswith("cis-zoom-1.0: CIS Zoom Benchmark v1.0.0")
    assert (
        "  cis-1.1.1.8\tlow\tprofile 1\tuser,group,account\tThe passcode is embedded in the "
        "join link"
    ) in lines
    assert "zoom-security-baseline: Zoom security baseline (15 rules)" in lines
    assert lines[0].endswith("(133 rules, 41 manual items)")
    assert (
        "  cis-1.1.1.5\tmanual\tprofile 2\t-\tZoom Rooms meetings (Room Meeting ID) need a passcode"
    ) in lines


def test_list_escapes_a_repo_packs_hidden_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", 'pack: p\ntitle: "P\\e[31m"\nrules:\n' + rule_text())
    code, output = run("list", "--pack", str(path))
    assert code == 0
    assert "\x1b" not in output
    assert output.splitlines()[0].startswith("p: P")


def test_list_of_an_unknown_pack_exits_1() -> None:
    code, output = run("list", "--pack", "nope")
    assert code == 1
    assert "no shipped policy pack named 'nope'" in output
