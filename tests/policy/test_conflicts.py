"""Enabled rules that no value satisfies together: `validate` names both, the field and the
reconciler.yaml entry that enables the later one, says how to drop one, and exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.policy import Engine, load_named
from reconciler.policy.conflicts import find_conflicts
from tests.policy.helpers import engine_of, rule_text

LINK = "meeting_security.embed_password_in_join_link"
SHIPPED_CONFLICT = (
    "reconciler.yaml:1:26: policies[1]: cis-zoom-1.0/cis-1.1.1.8 and "
    "zoom-security-baseline/zsb-passcode-not-in-link cannot both pass: each one's remedy of "
    f"{LINK} fails the other (at user, group, account level) (hint: drop one: enable "
    "zoom-security-baseline as {pack: zoom-security-baseline, except: [zsb-passcode-not-in-link]}"
    ", or cis-zoom-1.0 as {pack: cis-zoom-1.0, except: [cis-1.1.1.8]})"
)


def _validate(tmp_path: Path, policies: str, pack: str | None = None) -> tuple[int, list[str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text(f"policies: {policies}\n")
    (repo / "account.yaml").write_text("meeting_security:\n  waiting_room: true\n")
    if pack is not None:
        (repo / "policies").mkdir()
        (repo / "policies/ours.yaml").write_text(pack)
    result = CliRunner().invoke(cli, ["validate", str(repo)])
    return result.exit_code, result.stdout.splitlines()


def test_the_shipped_packs_together_conflict_on_the_passcode_link(tmp_path: Path) -> None:
    code, lines = _validate(tmp_path, "[cis-zoom-1.0, zoom-security-baseline]")
    assert code == 1
    assert lines == [SHIPPED_CONFLICT]


@pytest.mark.parametrize("pack", ["cis-zoom-1.0", "zoom-security-baseline"])
def test_each_shipped_pack_alone_has_no_conflict(tmp_path: Path, pack: str) -> None:
    code, lines = _validate(tmp_path, f"[{pack}]")
    assert code == 0
    assert lines == [f"{tmp_path / 'repo'}: valid: account, 0 groups, 0 users"]
    assert find_conflicts(Engine(load_named([pack]))) == []


def test_excepting_one_of_the_two_rules_ends_the_conflict(tmp_path: Path) -> None:
    policies = "[cis-zoom-1.0, {pack: zoom-security-baseline, except: [zsb-passcode-not-in-link]}]"
    code, _lines = _validate(tmp_path, policies)
    assert code == 0


def _rule(rule_id: str, expr: str, remedy: str, levels: str = "[account, group, user]") -> str:
    return rule_text(id=rule_id, expr=f"'{expr}'", remedy=remedy, levels=levels)


LENGTH = "settings.schedule_meeting.meeting_password_requirement.length"


def _length_rule(rule_id: str, least: int) -> str:
    remedy = (
        f"{{settings: {{schedule_meeting: {{meeting_password_requirement: {{length: {least}}}}}}}}}"
    )
    return _rule(rule_id, f"{LENGTH} >= {least}", remedy)


def test_a_remedy_that_raises_the_other_rules_bar_is_no_conflict() -> None:
    assert (
        find_conflicts(engine_of(_length_rule("at-least-8", 8), _length_rule("at-least-10", 10)))
        == []
    )


def test_opposite_rules_at_different_levels_do_not_clash() -> None:
    on = _rule(
        "on",
        "meeting_security.waiting_room == true",
        "{meeting_security: {waiting_room: true}}",
        "[account]",
    )
    off = _rule(
        "off",
        "meeting_security.waiting_room == false",
        "{meeting_security: {waiting_room: false}}",
        "[user]",
    )
    assert find_conflicts(engine_of(on, off)) == []


def test_a_rule_without_a_remedy_is_not_compared() -> None:
    on = _rule(
        "on", "meeting_security.waiting_room == true", "{meeting_security: {waiting_room: true}}"
    )
    off = rule_text(id="off", expr="meeting_security.waiting_room == false")
    assert find_conflicts(engine_of(on, off)) == []


def test_a_conflict_inside_a_repo_pack_keeps_the_entrys_filters_in_the_hint(tmp_path: Path) -> None:
    pack = "pack: ours\ntitle: Ours\nrules:\n" + "".join(
        [
            _rule(
                "on",
                "meeting_security.waiting_room == true",
                "{meeting_security: {waiting_room: true}}",
            ),
            _rule(
                "off",
                "meeting_security.waiting_room == false",
                "{meeting_security: {waiting_room: false}}",
            ),
            _rule(
                "other",
                "settings.in_meeting.chat == false",
                "{settings: {in_meeting: {chat: false}}}",
            ),
        ]
    )
    code, lines = _validate(tmp_path, "[{pack: policies/ours.yaml, except: [other]}]", pack)
    assert code == 1
    assert lines == [
        "reconciler.yaml:1:12: policies[0]: ours/on and ours/off cannot both pass: each one's "
        "remedy of meeting_security.waiting_room fails the other (at user, group, account level) "
        "(hint: drop one: enable policies/ours.yaml as {pack: policies/ours.yaml, except: "
        "[other, off]}, or policies/ours.yaml as {pack: policies/ours.yaml, except: [other, on]})"
    ]
