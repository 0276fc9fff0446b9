"""docs/commands.md is what scripts/commands_doc.py makes from the click commands now.

A command or option changed without regenerating the reference fails here, with the command that
fixes it. The generator's own rules (hidden things left out, `|` escaped, groups walked to any
depth, no dependence on the terminal) are checked on a small made-up CLI.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "commands_doc.py"
DOC = ROOT / "docs" / "commands.md"
REGENERATE = "python scripts/commands_doc.py --write"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("commands_doc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


commands_doc = _load_script()


def section(doc: str, command_path: str) -> str:
    """The text under the heading of `command_path`, up to the next heading."""
    found = re.search(
        rf"^#+ `{re.escape(command_path)}`\n(?P<body>.*?)(?=^#+ |\Z)", doc, re.M | re.S
    )
    assert found, f"no section for {command_path!r} in docs/commands.md"
    return found["body"]


def top_level_commands() -> list[str]:
    ctx = click.Context(cli, info_name="reconciler")
    return [name for name in cli.list_commands(ctx) if not cli.commands[name].hidden]


def test_the_committed_reference_is_what_the_script_makes_now() -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    fresh = commands_doc.render()
    if committed != fresh:
        diff = difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), "docs/commands.md", "generated", lineterm=""
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"docs/commands.md is out of date; run: {REGENERATE}\n{shown}", pytrace=False)


def test_the_script_checks_itself_when_run_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", top_level_commands())
def test_every_top_level_command_has_a_section(name: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert f"\n## `reconciler {name}`\n" in doc
    usage = section(doc, f"reconciler {name}").split("```text\n", 1)[1].split("\n", 1)[0]
    assert usage.startswith(f"reconciler {name} ")


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("reconciler plan", "--detailed-exitcode"),
        ("reconciler audit", "--since"),
        ("reconciler export", "--managed-only"),
        ("reconciler apply", "--max-plan-age"),
        ("reconciler schema", "--out"),
        ("reconciler sandbox serve", "--fault-rate"),
        ("reconciler policy list", "--pack"),
    ],
)
def test_an_option_is_a_row_of_its_commands_table(command: str, option: str) -> None:
    body = section(DOC.read_text(encoding="utf-8"), command)
    assert re.search(rf"^\| `{re.escape(option)}` \|", body, re.M), body


def test_a_row_gives_the_type_default_and_help() -> None:
    body = section(DOC.read_text(encoding="utf-8"), "reconciler audit")
    assert "| `--since` | `SNAPSHOT` |  | List what changed in Zoom since" in body
    assert (
        "| `--format` | one of `markdown`, `json`, `junit`, `sarif`, `html` | `markdown` |" in body
    )
    assert "| `PATH` | `PATH`, optional | `.` |" in body


# -- the generator's rules, on a made-up CLI ----------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Say more.")
def tool(verbose: bool) -> None:
    """A tool."""


@tool.command()
@click.argument("items", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["a|b", "c"]), default="c", help="Pick | one.")
@click.option("--secret", hidden=True, help="Never documented.")
@click.option("--level", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--tag", multiple=True, metavar="NAME", help="Repeat *me*.")
@click.option("--color/--no-color", default=True, help="Colors.")
def zeta(items: tuple[str, ...], mode: str, secret: str, level: int, tag: tuple[str, ...]) -> None:
    """Do the zeta thing.

    A second paragraph that click would rewrap
    at the terminal's width.
    """


@tool.command(hidden=True)
def ghost() -> None:
    """Never documented."""


@tool.group()
def alpha() -> None:
    """Nested commands."""


@alpha.command()
def beta() -> None:
    """Deep down."""


def test_groups_are_walked_in_name_order_and_hidden_things_left_out() -> None:
    text = commands_doc.render(tool, "tool")
    headings = re.findall(r"^(#+) `([^`]+)`$", text, re.M)
    assert headings == [
        ("##", "tool"),
        ("##", "tool alpha"),
        ("###", "tool alpha beta"),
        ("##", "tool zeta"),
    ]
    assert "ghost" not in text
    assert "--secret" not in text
    assert "Never documented" not in text
    assert "| `--help`" not in text  # said once in the header instead
    assert "[`tool alpha beta`](#tool-alpha-beta) | Deep down." in text


def test_cells_escape_pipes_and_rows_read_from_the_parameters() -> None:
    body = section(commands_doc.render(tool, "tool"), "tool zeta")
    assert "| `--mode` | one of `a\\|b`, `c` | `c` | Pick \\| one. |" in body
    assert "| `--level` | `INTEGER` (1<=x<=5) | `3` |  |" in body
    assert "| `--tag` | `NAME`, repeatable |  | Repeat \\*me\\*. |" in body
    assert "| `--color`, `--no-color` | flag | `--color` | Colors. |" in body
    assert "| `ITEMS` | `TEXT`, one or more, required |  |  |" in body
    assert "```text\ntool zeta [OPTIONS] ITEMS...\n```" in body
    assert "A second paragraph that click would rewrap at the terminal's width.\n" in body
    for line in body.splitlines():
        if line.startswith("|"):
            assert re.fullmatch(r"\|(?:[^|\\]|\\.)*(?:\|(?:[^|\\]|\\.)*)*\|", line), line


def test_the_output_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = commands_doc.render()
    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *_: os.terminal_size((20, 5)))
    assert commands_doc.render() == wide


def test_check_fails_with_one_line_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "commands.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(commands_doc, "DOC_PATH", stale)
    assert commands_doc.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert REGENERATE in err

    assert commands_doc.main(["--write"]) == 0
    assert stale.read_text(encoding="utf-8") == commands_doc.render()
    assert commands_doc.main(["--check"]) == 0


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert commands_doc.main([]) == 0
    assert capsys.readouterr().out == commands_doc.render()
