"""Finding packs: shipped names beside the package, a repo's own by relative path."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import load_repo
from reconciler.desired.models import POLICY_PACKS
from reconciler.desired.selection import Selection
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.policy import (
    SHIPPED,
    installed,
    load_named,
    load_selected,
    load_shipped,
    selection_for,
)
from reconciler.policy.packs import policies_root, repo_pack_file
from tests.policy.helpers import rule_text, write


def test_shipped_names_match_what_the_repo_options_accept() -> None:
    assert SHIPPED == POLICY_PACKS


def test_the_shipped_folder_is_policies_in_a_checkout() -> None:
    assert policies_root() == Path(__file__).resolve().parents[2] / "policies"
    assert "zoom-security-baseline" in installed()


def test_an_unknown_shipped_name_gets_a_did_you_mean() -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_shipped("zoom-security-baseln")
    assert str(caught.value.problems[0]) == (
        "no shipped policy pack named 'zoom-security-baseln' "
        "(hint: did you mean 'zoom-security-baseline'?)"
    )


def test_a_repo_pack_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write(tmp_path, "policies/ours.yaml", "pack: ours\ntitle: Ours\nrules:\n" + rule_text())
    packs = load_named(["zoom-security-baseline", "policies/ours.yaml"], repo=tmp_path)
    assert [pack.name for pack in packs] == ["zoom-security-baseline", "ours"]
    assert packs[1].file == "policies/ours.yaml"


def test_problems_of_every_pack_come_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "pack: a\ntitle: A\nrules:\n" + rule_text(severity="x"))
    with pytest.raises(ValidationFailed) as caught:
        load_named(["a.yaml", "b.yaml", "nope"], repo=tmp_path)
    shown = [str(problem) for problem in caught.value.problems]
    assert shown[0].startswith("no shipped policy pack named 'nope'")
    assert shown[1].startswith("a.yaml:6:15: rules[0].severity: must be one of")
    assert shown[2] == "b.yaml: cannot read: No such file or directory"


@pytest.mark.parametrize("relative", ["../out.yaml", "/etc/p.yaml", "policies/p.yml"])
def test_a_repo_pack_stays_in_the_repo(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ConfigError, match=r"a repo pack is a \.yaml file named by its path"):
        repo_pack_file(tmp_path, relative)


def _ids(selection: Selection) -> set[str]:
    (pack,) = load_selected([selection])
    return {rule.id for rule in pack.rules}


def test_profile_1_keeps_profile_1_and_unprofiled_rules_and_2_keeps_both() -> None:
    cis = load_shipped("cis-zoom-1.0")
    by_profile = {p: {r.id for r in cis.rules if r.profile == p} for p in (1, 2, None)}
    assert _ids(Selection("cis-zoom-1.0", profile=1)) == by_profile[1] | by_profile[None]
    assert _ids(Selection("cis-zoom-1.0", profile=2)) == {rule.id for rule in cis.rules}
    assert by_profile[1] and by_profile[2]


def test_except_and_severity_filter_the_rules() -> None:
    chosen = _ids(
        Selection("zoom-security-baseline", excluded=("zsb-waiting-room",), severities=("high",))
    )
    baseline = load_shipped("zoom-security-baseline")
    assert chosen == {
        r.id for r in baseline.rules if r.severity == "high" and r.id != "zsb-waiting-room"
    }


def test_load_selected_leaves_the_shipped_pack_whole() -> None:
    _ids(Selection("zoom-security-baseline", excluded=("zsb-waiting-room",)))
    assert "zsb-waiting-room" in {rule.id for rule in load_shipped("zoom-security-baseline").rules}


def test_a_problem_of_a_selection_not_written_in_a_repo_names_its_pack() -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_selected([Selection("zoom-security-baseline", excluded=("zsb-waiting-rom",))])
    assert [str(problem) for problem in caught.value.problems] == [
        "policy pack zoom-security-baseline: zoom-security-baseline has no rule "
        "'zsb-waiting-rom' (hint: did you mean 'zsb-waiting-room'?)"
    ]


def test_selection_for_finds_the_repos_entry_of_a_pack(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "policies:\n  - {pack: cis-zoom-1.0, profile: 1}\n")
    write(tmp_path, "account.yaml", "meeting_security:\n  waiting_room: true\n")
    state = load_repo(tmp_path)
    found = selection_for(state, "cis-zoom-1.0")
    assert found is not None and found.profile == 1
    assert selection_for(state, "zoom-security-baseline") is None
