"""What users wrote reaches a terminal, a PR comment or a workflow command only escaped."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.escape import printable, quoted, workflow_data, workflow_property

INJECTION = "chat\n::error file=account.yaml,line=1::INJECTED\n::add-mask::x\u202e\x00"


def test_hidden_characters_are_shown_escaped() -> None:
    assert printable("a\nb\r\tc\x00d\x1b[31m") == "a\\nb\\r\\tc\\x00d\\x1b[31m"
    assert printable("abc\u202edef\u200b") == "abc\\u202edef\\u200b"
    assert printable("plain ünïcode ✓") == "plain ünïcode ✓"


def test_quoted_values_are_cut_short() -> None:
    assert quoted("root:x:0:0:" * 20, limit=12) == "'root:x:0:0:r…'"
    assert quoted({"a": [1, 2]}) == '{"a": [1, 2]}'


def test_workflow_commands_escape_as_github_documents() -> None:
    assert workflow_data("50% done\nnext") == "50%25 done\\nnext"
    assert workflow_property("a:b,c") == "a%3Ab%2Cc"


def test_an_injected_key_prints_no_workflow_command(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    key = INJECTION.encode("unicode_escape").decode().replace('"', '\\"')
    (repo / "account.yaml").write_text(f'settings:\n  in_meeting:\n    "{key}": true\n')
    result = CliRunner().invoke(cli, ["validate", str(repo)], env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("::")] == [
        "::error file=" + str(repo).replace(":", "%3A").replace(",", "%2C") + "/account.yaml,"
        "line=3,col=5::settings.in_meeting.chat\\n::error file=account.yaml,line=1::INJECTED"
        "\\n::add-mask::x\\u202e\\x00: unknown key"
    ]
    assert "\x00" not in result.output and "\u202e" not in result.output
