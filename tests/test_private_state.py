"""`.reconciler/` holds the run lock, the audit log, snapshots and the sandbox's state: it is
created 0700 and its files 0600 whatever the umask, so another local user can neither swap the
lock file nor read a snapshot."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme"


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_state_is_private_under_umask_000(tmp_path: Path, open_umask: None) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    for args in (["apply", "--yes"], ["audit"]):
        result = CliRunner().invoke(cli, [*args, str(repo), "--sandbox"])
        assert result.exit_code in (0, 1, 2), result.output
    state = repo / ".reconciler"
    folders = [state, *(p for p in state.rglob("*") if p.is_dir())]
    files = [p for p in state.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"sandbox.json", "audit.log"} <= names
    assert any(name.startswith("apply-") and name.endswith(".lock") for name in names)
    assert any(p.parent.name == "snapshots" for p in files)
    assert {str(p.relative_to(repo)): mode(p) for p in folders} == {
        str(p.relative_to(repo)): 0o700 for p in folders
    }
    assert {str(p.relative_to(repo)): mode(p) for p in files} == {
        str(p.relative_to(repo)): 0o600 for p in files
    }
