"""The committed editor schemas are fresh, accept the example repo, and reject schema errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.desired.editor_schemas import SCHEMA_FILES, render
from reconciler.desired.models import FileKind

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "repo"
EXAMPLE = ROOT / "examples" / "acme"
CASES = ROOT / "tests" / "cases" / "invalid"
# Cases whose problem is a schema violation: wrong key, type, enum value or bound. The others are
# YAML-level (tags, anchors, duplicates, syntax, encoding), cross-file (names, conflicts) or
# date-related (check-jsonschema turns unquoted dates into strings, the loader rejects them).
SCHEMA_ERROR_CASES = [
    "01-unknown-top-level-key", "02-unknown-section", "03-unknown-field-typo",
    "04-unknown-nested-field", "05-unknown-key-in-profile", "06-bool-on", "07-bool-yes-no-off",
    "08-bool-quoted", "09-bool-as-number", "11-number-as-string", "12-string-as-number",
    "13-enum-violation", "14-integer-enum-violation", "22-get-only-field", "23-password-field",
    "24-account-secret", "25-unknown-family-key", "29-negative-priority", "30-missing-priority",
    "31-unknown-options-key", "32-bad-rate-tier", "33-lock-not-lockable",
    "34-list-where-mapping-expected", "38-top-level-list", "39-null-value",
    "40-field-in-wrong-family", "41-section-outside-settings", "42-user-auth-option-type",
    "45-list-limits", "47-float-for-integer", "48-mapping-for-scalar",
    "49-problems-in-many-files", "57-account-auth-visible", "58-defaults-unknown-key",
]  # fmt: skip


def kind_of(repo: Path, file: Path) -> FileKind:
    rel = file.relative_to(repo).as_posix()
    if rel in ("reconciler.yaml", "account.yaml"):
        return "reconciler" if rel == "reconciler.yaml" else "account"
    if rel.startswith(("groups/", "users/")):
        return "group" if rel.startswith("groups/") else "user"
    return "defaults"


def files_by_kind(repos: list[Path]) -> dict[FileKind, list[Path]]:
    found: dict[FileKind, list[Path]] = {}
    for repo in repos:
        for file in sorted(repo.rglob("*.yaml")):
            found.setdefault(kind_of(repo, file), []).append(file)
    return found


def check_jsonschema(kind: FileKind, files: list[Path]) -> dict[str, list[str]]:
    """Run check-jsonschema; the schema errors it reports, by file."""
    schema = COMMITTED / SCHEMA_FILES[kind]
    argv = [sys.executable, "-m", "check_jsonschema", "-o", "json", "--schemafile", str(schema)]
    done = subprocess.run([*argv, *map(str, files)], capture_output=True, text=True, check=False)
    report = json.loads(done.stdout)
    errors: dict[str, list[str]] = {}
    for error in report["errors"]:
        errors.setdefault(error["filename"], []).append(error["message"])
    return errors


@pytest.mark.parametrize("kind", list(SCHEMA_FILES))
def test_committed_schemas_are_fresh(kind: FileKind) -> None:
    committed = (COMMITTED / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    assert committed == render(kind), "stale: run `reconciler schema --out schemas/repo`"


def test_schema_command_writes_every_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(SCHEMA_FILES.values())
    assert result.output.splitlines() == [str(tmp_path / "out" / n) for n in SCHEMA_FILES.values()]


def test_example_files_start_with_their_schema() -> None:
    for kind, files in files_by_kind([EXAMPLE]).items():
        for file in files:
            first = file.read_text(encoding="utf-8").splitlines()[0]
            target = (
                file.parent / first.removeprefix("# yaml-language-server: $schema=")
            ).resolve()
            assert target == COMMITTED / SCHEMA_FILES[kind], file


def test_check_jsonschema_accepts_the_example_and_rejects_schema_errors() -> None:
    repos = [EXAMPLE, *(CASES / name / "repo" for name in SCHEMA_ERROR_CASES)]
    errors: dict[str, list[str]] = {}
    for kind, files in files_by_kind(repos).items():
        errors |= check_jsonschema(kind, files)
    assert not [file for file in errors if str(EXAMPLE) in file]
    rejected = {name for name in SCHEMA_ERROR_CASES if any(f"/{name}/" in file for file in errors)}
    assert sorted(set(SCHEMA_ERROR_CASES) - rejected) == []
