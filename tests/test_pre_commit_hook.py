"""The pre-commit hook this repository offers settings repos (.pre-commit-hooks.yaml) is valid
and does what it says: its entry, run the way pre-commit runs it (from the settings repo's root,
no file names), fails on a broken file with its file:line and passes a valid repo, offline.

The manifest's fields are checked by hand (pre-commit is not a test dependency); when pre-commit
happens to be installed, its own manifest schema is checked too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOK_ID = "reconciler-validate"
# pre-commit's `language` values (pre_commit/all_languages.py, 4.x), with the older aliases.
LANGUAGES = frozenset(
    {
        "conda", "coursier", "dart", "docker", "docker_image", "dotnet", "fail", "golang",
        "haskell", "julia", "lua", "node", "perl", "pygrep", "python", "r", "ruby", "rust",
        "swift", "unsupported", "unsupported_script", "system", "script",
    }
)  # fmt: skip
BROKEN_USER = "settings: {in_meeting: {chat: maybe}}\n"
VALID_USER = "settings: {in_meeting: {chat: false}}\n"


def hooks() -> list[dict[str, Any]]:
    loaded = YAML(typ="safe").load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, list), "a hooks manifest is a list of hooks"
    return loaded


def hook() -> dict[str, Any]:
    found = [item for item in hooks() if item.get("id") == HOOK_ID]
    assert len(found) == 1, f"expected one hook with id {HOOK_ID!r}"
    return found[0]


def test_the_manifest_passes_pre_commits_own_schema() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    clientlib.load_manifest(str(MANIFEST))


def test_every_hook_has_the_fields_pre_commit_requires() -> None:
    for item in hooks():
        for key in ("id", "name", "entry", "language"):
            assert isinstance(item.get(key), str) and item[key], f"{key} missing in {item}"
        assert item["language"] in LANGUAGES
        for key in ("files", "exclude"):
            if key in item:
                re.compile(item[key])
        for key in ("pass_filenames", "always_run"):
            assert isinstance(item.get(key, False), bool)
        assert isinstance(item.get("args", []), list)


def test_the_validate_hook_runs_once_per_commit_on_yaml_changes() -> None:
    found = hook()
    assert found["name"] == "reconciler validate"
    assert found["entry"] == "reconciler validate"
    assert found["language"] == "python"
    assert found["pass_filenames"] is False  # validate reads the whole repo, not the files
    assert found["always_run"] is False
    assert found["args"] == []
    assert "offline" in found["description"]
    files = re.compile(found["files"])
    for path in ("users/a@b.test.yaml", "account.yaml", "groups/sales.yml", "defaults.yaml"):
        assert files.search(path), path
    for path in ("README.md", "account.yaml.orig", "users/a@b.test.json"):
        assert not files.search(path), path


def test_the_entry_is_a_console_script_the_package_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    program = shlex.split(hook()["entry"])[0]
    assert program in pyproject["project"]["scripts"]


def run_hook(repo: Path) -> subprocess.CompletedProcess[str]:
    """The hook as pre-commit runs it: entry + args, from the repo's root, no file names."""
    found = hook()
    command = [*shlex.split(found["entry"]), *found["args"]]
    bin_dir = Path(sys.executable).parent
    assert shutil.which(command[0], path=str(bin_dir)), f"{command[0]} not in {bin_dir}"
    env = {k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "NO_COLOR"}}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    # No route to Zoom: validate must not need one.
    env |= {"ZOOM_API_URL": "https://zoom.invalid/v2", "ZOOM_OAUTH_URL": "https://zoom.invalid"}
    return subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def settings_repo(tmp_path: Path, user_file: str) -> Path:
    repo = tmp_path / "settings"
    (repo / "users").mkdir(parents=True)
    (repo / "users" / "bob@acme.test.yaml").write_text(user_file, encoding="utf-8")
    return repo


def test_the_hook_fails_a_broken_file_with_its_file_and_line(tmp_path: Path) -> None:
    done = run_hook(settings_repo(tmp_path, BROKEN_USER))
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^users/bob@acme\.test\.yaml:1:\d+: .*chat", done.stdout, re.M), done.stdout
    assert "Traceback" not in done.stderr


def test_the_hook_passes_a_valid_repo(tmp_path: Path) -> None:
    done = run_hook(settings_repo(tmp_path, VALID_USER))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
