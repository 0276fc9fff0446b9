"""Small packs written for a test, and targets to run them on."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.policy import Engine, Pack, TargetContext, parse_pack

HEAD = "pack: p\ntitle: A test pack\nrules:\n"


def rule_text(**fields: str) -> str:
    """One rule's YAML: a valid rule, with `fields` (raw YAML values) replacing its keys."""
    values = {
        "id": "r1",
        "title": "A rule",
        "severity": "high",
        "rationale": "Because.",
        "levels": "[account, group, user]",
        "expr": "meeting_security.waiting_room == true",
    }
    values.update(fields)
    lines = [f"{key}: {value}" for key, value in values.items() if value != "DROP"]
    return "  - " + "\n    ".join(lines) + "\n"


def parsed(text: str) -> tuple[Pack | None, list[str]]:
    pack, problems = parse_pack("p.yaml", text.encode(), expected_name="p")
    return pack, [str(problem) for problem in problems]


def problems_of(text: str) -> list[str]:
    return parsed(text)[1]


def pack_of(*rules: str) -> Pack:
    pack, problems = parsed(HEAD + "".join(rules))
    assert problems == [], problems
    assert pack is not None
    return pack


def engine_of(*rules: str) -> Engine:
    return Engine([pack_of(*rules)])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def user(**documents: Any) -> TargetContext:
    """A user target; keyword names are families (`general` for settings), plus `locked`."""
    locked = documents.pop("locked", {})
    return TargetContext("user", email="a@acme.test", documents=documents, locked=locked)


def account(**documents: Any) -> TargetContext:
    locked = documents.pop("locked", {})
    return TargetContext("account", documents=documents, locked=locked)


def messages(problems: list[ConfigError]) -> list[str]:
    return [str(problem) for problem in problems]
