"""The shipped CIS Zoom 1.0.0 pack: well formed, and every field it reads is a real Zoom field.

Standalone on purpose: it reads the pack with ruamel.yaml and the committed Zoom GET schemas
with json, and does not import the policy engine. When cel-python is installed it also
evaluates each rule's examples, so a CEL typo or an example that does not match its rule fails
here.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.diff import MISSING
from reconciler.policy import Engine, TargetContext, load_shipped

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK_PATH = REPO_ROOT / "policies" / "cis-zoom-1.0.yaml"
ZOOM_SCHEMAS = REPO_ROOT / "schemas" / "zoom"

LEVELS = ("account", "group", "user")
LOCK_LEVELS = ("account", "group")
FAMILIES = ("settings", "meeting_security", "meeting_authentication", "recording_authentication")
# The schema file family each expression variable comes from.
FAMILY_FILE = {
    "settings": "general",
    "meeting_security": "meeting_security",
    "meeting_authentication": "meeting_authentication",
    "recording_authentication": "recording_authentication",
}
SEVERITIES = {"low", "medium", "high", "critical"}
REQUIRED_KEYS = {
    "id",
    "title",
    "severity",
    "rationale",
    "references",
    "profile",
    "levels",
    "expr",
    "remedy",
    "examples",
}
ALLOWED_KEYS = REQUIRED_KEYS | {"weakens", "portal"}
# cis-<CIS item>, with a level suffix where Zoom names the field differently at that level.
ID_RE = re.compile(r"^cis-(?P<item>\d+(?:\.\d+)*)(?:-(?P<level>account|group|user))?$")
PATH_RE = re.compile(
    r"(?<![\w.])(?P<path>(?:settings|meeting_security|meeting_authentication"
    r"|recording_authentication)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)"
)
STRING_LITERAL_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


# ------------------------------------------------------------------------------------ loading


@cache
def pack() -> dict[str, Any]:
    with PACK_PATH.open(encoding="utf-8") as handle:
        return YAML(typ="safe", pure=True).load(handle)


def rules() -> list[dict[str, Any]]:
    return list(pack()["rules"])


def rule_ids() -> list[str]:
    return [str(rule.get("id")) for rule in rules()]


@cache
def zoom_schema(name: str) -> dict[str, Any]:
    with (ZOOM_SCHEMAS / f"{name}.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def family_root(level: str, family: str) -> dict[str, Any]:
    """The schema node whose properties are the variable's first-level keys."""
    schema = zoom_schema(f"{level}.{FAMILY_FILE[family]}.get")
    if family == "meeting_security":
        # The repo shape (and the expression variable) drops Zoom's `meeting_security` wrapper.
        return schema["properties"]["meeting_security"]
    return schema


def lock_root(level: str, section: str) -> dict[str, Any] | None:
    """The lock schema node for one section of a settings file's `locks`."""
    if section == "meeting_security":
        schema = zoom_schema(f"{level}.lock.meeting_security.get")
        return schema["properties"]["meeting_security"]
    return zoom_schema(f"{level}.lock.general.get")["properties"].get(section)


def resolve(node: dict[str, Any] | None, keys: list[str]) -> dict[str, Any] | None:
    """Walk property names down a schema; None where a name is not a property."""
    index = 0
    while index < len(keys):
        if node is None:
            return None
        key = keys[index]
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            # Authentication families: the repo maps an option's name to its fields, where
            # Zoom has an array of option objects; any name picks the item schema.
            node = node["items"]
            index += 1
            continue
        node = node.get("properties", {}).get(key)
        index += 1
    return node


def field_schema(level: str, path: str) -> dict[str, Any] | None:
    family, *keys = path.split(".")
    return resolve(family_root(level, family), keys)


def expr_paths(expr: str) -> list[str]:
    """Dotted family paths an expression reads (string literals removed first)."""
    code = STRING_LITERAL_RE.sub('""', expr)
    return sorted({match.group("path") for match in PATH_RE.finditer(code)})


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        found: list[tuple[str, Any]] = []
        for key, sub in value.items():
            found.extend(leaves(sub, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return [(prefix, value)]


def family_leaves(document: dict[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for family in FAMILIES:
        if family in document:
            found.extend(leaves(document[family], family))
    return found


def value_problem(schema: dict[str, Any], value: Any) -> str | None:
    expected = schema.get("type")
    if expected in JSON_TYPES:
        kinds = JSON_TYPES[expected]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            return f"{value!r} is not {expected}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    return None


def examples_of(rule: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (outcome, example)
        for outcome in ("pass", "fail", "not_applicable")
        for example in (rule.get("examples") or {}).get(outcome) or []
    ]


def item_of(rule: dict[str, Any]) -> str:
    match = ID_RE.match(str(rule["id"]))
    assert match, rule["id"]
    return match.group("item")


RULE_PARAMS = [pytest.param(rule, id=str(rule.get("id"))) for rule in rules()]


# ------------------------------------------------------------------------------------ the pack


def test_pack_parses_and_names_itself() -> None:
    data = pack()
    assert isinstance(data, dict)
    assert data["pack"] == PACK_PATH.stem
    assert isinstance(data.get("title"), str) and data["title"].strip()
    assert isinstance(data["rules"], list) and len(data["rules"]) >= 80


def test_ids_are_unique() -> None:
    ids = rule_ids()
    duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    assert not duplicates


def test_ids_name_a_cis_item() -> None:
    bad = [rule_id for rule_id in rule_ids() if not ID_RE.match(rule_id)]
    assert not bad


def test_each_item_has_one_unsuffixed_rule() -> None:
    """A level-suffixed rule is a variant of an item that also has its plain cis-<item> rule."""
    ids = set(rule_ids())
    for rule_id in ids:
        match = ID_RE.match(rule_id)
        if match and match.group("level"):
            assert f"cis-{match.group('item')}" in ids, rule_id


# ------------------------------------------------------------------------------------ per rule


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_rule_has_the_required_keys(rule: dict[str, Any]) -> None:
    assert set(rule) >= REQUIRED_KEYS, sorted(REQUIRED_KEYS - set(rule))
    assert set(rule) <= ALLOWED_KEYS, sorted(set(rule) - ALLOWED_KEYS)
    for key in ("title", "rationale", "expr"):
        assert isinstance(rule[key], str) and rule[key].strip(), key
    assert "\n" not in rule["rationale"].strip()
    assert rule["severity"] in SEVERITIES
    assert rule["profile"] in (1, 2) and not isinstance(rule["profile"], bool)
    assert isinstance(rule["remedy"], dict) and rule["remedy"]
    if "weakens" in rule:
        assert isinstance(rule["weakens"], str) and rule["weakens"].strip()


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_rule_references_its_cis_item(rule: dict[str, Any]) -> None:
    assert rule["references"] == [f"CIS Zoom 1.0.0 {item_of(rule)}"]


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_rule_levels_are_valid(rule: dict[str, Any]) -> None:
    levels = rule["levels"]
    assert isinstance(levels, list) and levels
    assert len(set(levels)) == len(levels)
    assert set(levels) <= set(LEVELS)
    suffix = ID_RE.match(rule["id"]).group("level")  # type: ignore[union-attr]
    if suffix:
        assert levels == [suffix]


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_rule_has_pass_and_fail_examples(rule: dict[str, Any]) -> None:
    examples = rule["examples"]
    assert isinstance(examples, dict)
    assert set(examples) <= {"pass", "fail", "not_applicable"}
    assert isinstance(examples.get("pass"), list) and examples["pass"]
    assert isinstance(examples.get("fail"), list) and examples["fail"]


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_expr_fields_exist_at_every_level(rule: dict[str, Any]) -> None:
    paths = expr_paths(rule["expr"])
    assert paths, "the expression reads no settings field"
    missing = [
        f"{level}: {path}"
        for path in paths
        for level in rule["levels"]
        if field_schema(level, path) is None
    ]
    assert not missing


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_levels_name_every_level_that_has_the_fields(rule: dict[str, Any]) -> None:
    """A level whose documents have every field the rule reads must be in its levels."""
    paths = expr_paths(rule["expr"])
    having = [
        level for level in LEVELS if all(field_schema(level, path) is not None for path in paths)
    ]
    assert sorted(rule["levels"]) == sorted(having)


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_examples_use_real_fields_of_their_level(rule: dict[str, Any]) -> None:
    reads = set(expr_paths(rule["expr"]))
    for outcome, example in examples_of(rule):
        assert isinstance(example, dict), outcome
        assert set(example) <= {"target", *FAMILIES}, sorted(example)
        level = (example.get("target") or {}).get("level")
        assert level in rule["levels"], f"{outcome}: level {level!r}"
        found = family_leaves(example)
        assert found, f"{outcome}: no fields"
        for path, value in found:
            schema = field_schema(level, path)
            assert schema is not None, f"{outcome}: {path} is not a {level} field"
            problem = value_problem(schema, value)
            assert problem is None, f"{outcome}: {path}: {problem}"
        if outcome in ("pass", "fail"):
            held = {path for path, _ in found}
            assert reads <= held, f"{outcome}: lacks {sorted(reads - held)}"


@pytest.mark.parametrize("rule", RULE_PARAMS)
def test_remedy_is_settings_file_shaped(rule: dict[str, Any]) -> None:
    remedy = rule["remedy"]
    assert set(remedy) <= {*FAMILIES, "locks"}, sorted(remedy)
    reads = set(expr_paths(rule["expr"]))
    found = family_leaves(remedy)
    assert {path for path, _ in found} >= reads, "the remedy leaves a read field unset"
    for path, value in found:
        for level in rule["levels"]:
            schema = field_schema(level, path)
            assert schema is not None, f"{path} is not a {level} field"
            problem = value_problem(schema, value)
            assert problem is None, f"{path}: {problem}"
    if "locks" in remedy:
        lock_levels = [level for level in rule["levels"] if level in LOCK_LEVELS]
        assert lock_levels, "locks need an account or group level"
        for path, value in leaves(remedy["locks"]):
            assert value is True, path
            section, *keys = path.split(".")
            for level in lock_levels:
                assert resolve(lock_root(level, section), keys) is not None, (
                    f"{path} is not lockable at {level}"
                )


# ---------------------------------------------------------------- with the project's CEL engine
# (the examples themselves run in tests/policy/test_shipped.py, through `run_examples`)


def _example_value(example: Any, family: str, path: tuple[str, ...]) -> Any:
    node: Any = example.documents.get(family, {})
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


CIS = load_shipped("cis-zoom-1.0")


@pytest.mark.parametrize("rule", [r for r in CIS.rules if r.weakens], ids=lambda r: r.id)
def test_weakens_flags_the_step_from_pass_to_fail(rule: Any) -> None:
    engine = Engine([CIS])
    passing = next(e for e in rule.examples if e.kind == "pass")
    failing = next(e for e in rule.examples if e.kind == "fail")
    level = passing.level
    context = TargetContext(level)
    checked = 0
    for family, path in sorted(rule.reads.fields):
        before = _example_value(passing, family, path)
        after = _example_value(failing, family, path)
        if before is MISSING or after is MISSING or before == after:
            continue
        checked += 1
        flagged = engine.weakening(level, family, path, before, after, context)
        assert rule in flagged, (family, path)
        assert rule not in engine.weakening(level, family, path, after, before, context)
    assert checked, "the examples differ in no field the rule reads: nothing was judged"
