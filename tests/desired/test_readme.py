"""The README's settings-repo examples are a valid repo."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.desired import load_repo

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_files() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("## Settings repo", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return {
        re.split(r"[:\s]", block.split("\n", 1)[0][2:], maxsplit=1)[0]: block for block in blocks
    }


def test_readme_examples_load(tmp_path: Path) -> None:
    files = readme_files()
    assert sorted(files) == [
        "account.yaml",
        "defaults.yaml",
        "groups/Engineering.yaml",
        "reconciler.yaml",
        "users/carol@acme.test.yaml",
    ]
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    state = load_repo(tmp_path)
    assert state.groups["Engineering"].members is not None
    assert state.users["carol@acme.test"].settings.families == (
        "general",
        "meeting_authentication",
        "meeting_security",
    )
