"""The committed Zoom settings schemas: reproducible from the specs, clean, and strict enough."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.schemas import schemas_root, zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import LEVELS, LOCK_FAMILIES

REPO_ROOT = Path(__file__).resolve().parent.parent
DERIVE_SCRIPT = REPO_ROOT / "scripts" / "derive_schemas.py"
COMMITTED_DIR = schemas_root() / "zoom"
SEED_PAGE = REPO_ROOT.parent / "shared" / "seed" / "update-user-settings.txt"

# The doc page shows types where it has no sample value; JSON-escaped in the file as \u003c...
PLACEHOLDER_VALUES: dict[str, Any] = {
    "<boolean>": True,
    "<integer>": 1,
    "<string>": "x",
    "<number>": 1.5,
}
PROSE_KEYWORDS = ("description", "example", "examples", "title")


def specs_dir() -> Path:
    # Same lookup as the script's default, so a skip names the folder the script would read.
    configured = os.environ.get("ZOOM_API_SPECS")
    if configured:
        return Path(configured)
    return (REPO_ROOT.parent / "shared" / "zoom-api").resolve()


def committed_schema_paths() -> list[Path]:
    return sorted(COMMITTED_DIR.glob("*.json"))


def schema_nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every subschema, reached through keywords only (so a field named `description` is data)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from schema_nodes(sub)
    yield from schema_nodes(schema.get("items"))
    for keyword in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(keyword, []):
            yield from schema_nodes(sub)


def fill_placeholders(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: fill_placeholders(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(sub) for sub in value]
    if isinstance(value, str):
        return PLACEHOLDER_VALUES.get(value, value)
    return value


def seed_body() -> dict[str, Any]:
    if not SEED_PAGE.is_file():
        pytest.skip(f"seed doc page not found at {SEED_PAGE}")
    match = re.search(r"-d '(\{.*\})'", SEED_PAGE.read_text(encoding="utf-8"))
    assert match, f"no curl -d '...' body in {SEED_PAGE}"
    body: dict[str, Any] = json.loads(match.group(1))
    return body


def errors_of(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = Draft202012Validator(schema)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


# --- 1. reproducible ---------------------------------------------------------------------------


def test_committed_schemas_match_a_fresh_derivation(tmp_path: Path) -> None:
    specs = specs_dir()
    if not specs.is_dir():
        pytest.skip(f"Zoom OpenAPI specs not found at {specs} (set ZOOM_API_SPECS)")
    subprocess.run(
        [sys.executable, str(DERIVE_SCRIPT), "--specs", str(specs), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in COMMITTED_DIR.iterdir()}
    assert sorted(committed) == sorted(fresh), "extra or missing files in schemas/zoom"
    stale = [name for name in sorted(fresh) if committed[name] != fresh[name]]
    assert not stale, f"rerun scripts/derive_schemas.py; out of date: {stale}"


def test_expected_file_set_is_committed() -> None:
    # 3 levels x 4 families x 2 directions, plus 2 lock levels x 2 families x 2 directions.
    assert len(committed_schema_paths()) == 32
    assert (COMMITTED_DIR / "README.md").is_file()


# --- 2. the seed page's example body -----------------------------------------------------------


def test_user_patch_schema_accepts_the_seed_example_body() -> None:
    body = fill_placeholders(seed_body())
    errors = errors_of(zoom_settings_schema("user", "general", "patch"), body)
    assert not errors, "seed body rejected:\n" + "\n".join(errors)


# --- 3. every committed schema is clean -------------------------------------------------------


@pytest.mark.parametrize("path", committed_schema_paths(), ids=lambda path: path.name)
def test_schema_is_valid_prose_free_and_closed(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    for node in schema_nodes(schema):
        assert not [key for key in PROSE_KEYWORDS if key in node], f"prose left in {path.name}"
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"open object in {path.name}"


# --- 4. behaviour -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_general_patch() -> dict[str, Any]:
    return zoom_settings_schema("user", "general", "patch")


def test_unknown_key_is_rejected(user_general_patch: dict[str, Any]) -> None:
    assert errors_of(user_general_patch, {"in_meeting": {"waitng_room": True}})
    assert errors_of(user_general_patch, {"in_meetings": {}})


def test_string_for_boolean_is_rejected(user_general_patch: dict[str, Any]) -> None:
    assert errors_of(user_general_patch, {"in_meeting": {"waiting_room": "true"}})
    assert not errors_of(user_general_patch, {"in_meeting": {"waiting_room": True}})


@pytest.mark.parametrize(
    ("section", "field", "allowed", "outside"),
    [
        ("in_meeting", "entry_exit_chime", "host", "everyone"),
        ("recording", "auto_recording", "cloud", "remote"),
        ("in_meeting", "allow_participants_chat_with", 4, 5),
    ],
)
def test_enum_restored_from_2023_spec(
    user_general_patch: dict[str, Any], section: str, field: str, allowed: Any, outside: Any
) -> None:
    # The 2025 spec lost every enum; these come from the 2023 spec.
    assert not errors_of(user_general_patch, {section: {field: allowed}})
    assert errors_of(user_general_patch, {section: {field: outside}})


def test_misplaced_2023_array_enum_constrains_items() -> None:
    schema = zoom_settings_schema("group", "general", "get")
    languages = {"in_meeting": {"language_interpretation": {"languages": ["English"]}}}
    assert not errors_of(schema, languages)
    languages["in_meeting"]["language_interpretation"]["languages"] = ["Klingon"]
    assert errors_of(schema, languages)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("family", ["meeting_authentication", "recording_authentication"])
def test_auth_patch_takes_one_imperative_option(level: str, family: str) -> None:
    schema = zoom_settings_schema(level, family, "patch")
    body = {"authentication_option": {"action": "update", "id": "abc", "default_option": True}}
    assert not errors_of(schema, body)
    assert not errors_of(schema, {family: True})
    assert errors_of(schema, {"authentication_option": {"action": "rename", "id": "abc"}})
    assert errors_of(schema, {"authentication_options": []}), "the list form is GET-only"


@pytest.mark.parametrize("level", LEVELS)
def test_auth_actions_differ_by_level(level: str) -> None:
    # Accounts manage profiles (add/delete); users and groups only pick or show/hide them.
    schema = zoom_settings_schema(level, "meeting_authentication", "patch")
    expect_add_accepted = level == "account"
    body = {"authentication_option": {"action": "add", "name": "x"}}
    assert (not errors_of(schema, body)) is expect_add_accepted


@pytest.mark.parametrize("level", LEVELS)
def test_auth_get_reads_a_list(level: str) -> None:
    schema = zoom_settings_schema(level, "recording_authentication", "get")
    body = {
        "recording_authentication": True,
        "authentication_options": [{"id": "abc", "type": "internally", "default_option": True}],
    }
    assert not errors_of(schema, body)


@pytest.mark.parametrize("level", ["group", "account"])
@pytest.mark.parametrize("family", LOCK_FAMILIES)
def test_lock_schemas_take_booleans(level: str, family: str) -> None:
    schema = zoom_lock_schema(level, family, "patch")
    section = "in_meeting" if family == "general" else "meeting_security"
    field = "chat" if family == "general" else "waiting_room"
    assert not errors_of(schema, {section: {field: True}})
    assert errors_of(schema, {section: {field: "yes"}})


def test_direction_only_fields_appear_in_one_schema() -> None:
    # The 2025 spec has in_meeting.auto_answer only in the PATCH body and
    # in_meeting.ai_companion_questions only in the GET response.
    get_in_meeting = zoom_settings_schema("user", "general", "get")["properties"]["in_meeting"]
    patch_in_meeting = zoom_settings_schema("user", "general", "patch")["properties"]["in_meeting"]
    assert "auto_answer" in patch_in_meeting["properties"]
    assert "auto_answer" not in get_in_meeting["properties"]
    assert "ai_companion_questions" in get_in_meeting["properties"]
    assert "ai_companion_questions" not in patch_in_meeting["properties"]
