"""The core never prints: only the command line (cli.py, the sandbox, policy, github and watch
commands) and the renderers, which write to the handle they are given, touch stdout or stderr."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
ALLOWED = {"cli.py", "sandbox/cli.py", "policy/cli.py", "github/cli.py", "watch/cli.py"}
PRINTERS = {"print", "echo", "secho"}
STREAMS = {"stdout", "stderr"}


def _prints(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in PRINTERS:
                lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in STREAMS:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id == "sys":
                lines.append(node.lineno)
    return lines


def test_no_module_outside_the_cli_and_the_renderers_prints() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED or relative.startswith("render/"):
            continue
        found += [f"{relative}:{line}" for line in _prints(ast.parse(path.read_text()))]
    assert found == []


def test_the_check_finds_a_print() -> None:
    assert _prints(ast.parse("import sys\nprint('x')\nsys.stderr.write('y')\n")) == [2, 3]
