"""Every pack in policies/: loads as shipped, its examples hold, and every field it reads (or a
remedy names) is a field of Zoom's GET settings at each level the rule names."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.policy import user_contexts
from reconciler.policy import Engine, Outcome, load_pack, run_examples
from reconciler.policy.fields import field_problems, has_field
from reconciler.policy.packs import policies_root

PACK_FILES = sorted(policies_root().glob("*.yaml"))


def test_the_baseline_is_there() -> None:
    assert policies_root() / "zoom-security-baseline.yaml" in PACK_FILES


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.stem)
def test_every_example_holds(path: Path) -> None:
    pack = load_pack(path, f"policies/{path.name}", shipped=True)
    failing = [
        f"{result.where}: {result.rule.id}: {result.example.kind} is {result.outcome.value}"
        f" {result.error or ''}"
        for result in run_examples(pack)
        if not result.ok
    ]
    assert failing == []


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.stem)
def test_every_field_exists_at_each_level(path: Path) -> None:
    pack = load_pack(path, f"policies/{path.name}", shipped=True)
    assert [str(problem) for problem in field_problems(pack)] == []


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.stem)
def test_every_rule_has_pass_and_fail_examples(path: Path) -> None:
    pack = load_pack(path, f"policies/{path.name}", shipped=True)
    for rule in pack.rules:
        kinds = {example.kind for example in rule.examples}
        assert {"pass", "fail"} <= kinds, rule.id
        assert "\n" not in rule.rationale.strip(), rule.id


def test_the_baseline_covers_what_matters_most() -> None:
    pack = load_pack(policies_root() / "zoom-security-baseline.yaml", shipped=True)
    assert len(pack.rules) >= 12
    by_id = {rule.id: rule for rule in pack.rules}
    assert by_id["zsb-lobby-locked"].levels == ("account",)
    assert by_id["zsb-lobby-locked"].reads.locks
    assert by_id["zsb-user-keeps-waiting-room"].levels == ("user",)
    assert all(rule.remedy for rule in pack.rules)


def test_field_lookup_follows_the_repo_shape() -> None:
    assert has_field("user", "meeting_security", ("waiting_room",))
    assert not has_field("user", "meeting_security", ("meeting_security", "waiting_room"))
    assert has_field("account", "meeting_authentication", ("authentication_options", "Any", "type"))
    assert has_field("group", "general", ("in_meeting",))
    assert not has_field("account", "general", ("in_meeting", "waiting_room"))


def test_the_shipped_packs_run_on_sandbox_users() -> None:
    """Real effective settings: no rule of a shipped pack is unknown on them."""
    engine = Engine([load_pack(path, shipped=True) for path in PACK_FILES])
    for context in user_contexts(30):
        unknown = [r for r in engine.evaluate(context) if r.outcome is Outcome.UNKNOWN]
        assert unknown == []
