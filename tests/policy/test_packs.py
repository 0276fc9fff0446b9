"""Finding packs: shipped names beside the package, a repo's own by relative path."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.models import POLICY_PACKS
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.policy import SHIPPED, installed, load_named, load_shipped
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
