"""Roll-ups on the 500-user sandbox tenant of tests/audit: grouping never changes a verdict.
Every finding is in exactly one roll-up with its status, the counts per rule are the per-target
counts (and the answer key's), and a layer's roll-up holds only users whose primary group (or,
with no group, the account) fails the rule with the same value and for whom the repo sets
nothing. The SARIF of the same audit, with tiny caps, rolls up further and says so, on stderr
too."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema.validators import validator_for

from reconciler.audit.model import AuditResult, AuditTarget, FindingStatus
from reconciler.audit.rollup import Depth, count_roll_ups, roll_up
from reconciler.audit.run import run_audit
from reconciler.cli import cli
from reconciler.desired import load_repo
from reconciler.render import audit_sarif
from reconciler.targets import TargetRef
from tests.audit.layered import layered
from tests.audit.tenant import RULES, Expected, seeded_repo
from tests.plan.sandbox_repo import SANDBOX

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "shared/sarif/sarif-schema-2.1.0.json"


async def _audit(repo: Path) -> AuditResult:
    async with SANDBOX.open(repo, tier=None, rate=None, paced=False) as session:
        done = await run_audit(load_repo(repo), session, snapshot_dir=None)
    return done.result


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected, AuditResult]:
    repo = tmp_path_factory.mktemp("rollup") / "repo"
    repo.mkdir()
    _tenant, expected = asyncio.run(seeded_repo(repo, unreadable=0))
    return repo, expected, asyncio.run(_audit(repo))


def _verdicts(items: Any) -> Counter[tuple[str, str, str, str]]:
    return Counter(
        (f.rule_code or f.kind.value, f.target.ref.kind, f.target.ref.id, f.status.value)
        for f in items
    )


@pytest.mark.parametrize("depth", list(Depth))
def test_every_finding_is_in_exactly_one_roll_up_with_its_verdict(
    audited: tuple[Path, Expected, AuditResult], depth: Depth
) -> None:
    _repo, _expected, result = audited
    rollups = roll_up(result, depth, sample_size=None)
    members = [finding for rollup in rollups for finding in rollup.sample]
    assert _verdicts(members) == _verdicts(result.findings)
    assert sum(rollup.count for rollup in rollups) == len(result.findings)
    for rollup in rollups:
        assert {finding.status for finding in rollup.sample} == {rollup.status}
        assert {finding.rule_code for finding in rollup.sample} == {rollup.first.rule_code}
    prints = [rollup.fingerprint for rollup in rollups]
    assert len(set(prints)) == len(prints)  # code scanning tells results apart by them


def test_the_counts_per_rule_are_the_per_target_counts_and_the_answer_keys(
    audited: tuple[Path, Expected, AuditResult],
) -> None:
    _repo, expected, result = audited
    for depth in Depth:
        counted: Counter[str] = Counter()
        for rollup in roll_up(result, depth):
            if rollup.status is FindingStatus.FAIL and rollup.first.rule_code is not None:
                counted[rollup.first.rule_code] += rollup.count
        for rule in RULES:
            assert counted[rule] == result.rule_counts(rule)["fail"], (depth, rule)
            assert counted[rule] == sum(1 for code, _label in expected.failing if code == rule)


def test_a_layer_holds_only_users_who_inherit_its_failure(
    audited: tuple[Path, Expected, AuditResult],
) -> None:
    _repo, _expected, result = audited
    rollups = roll_up(result, Depth.LAYER, sample_size=None)
    layers = [rollup for rollup in rollups if rollup.scope == "layer"]
    assert layers and sum(rollup.inherited for rollup in layers) >= 50  # not trivial
    for rollup in layers:
        layer = rollup.layer
        assert layer is not None and rollup.first.target is layer
        for finding in rollup.sample[1:]:
            target = finding.target
            assert target.ref.kind == "user"
            if layer.ref.kind == "group":
                assert target.groups[0] == layer.ref.name
            else:
                assert target.groups == ()
            assert finding.actual == rollup.first.actual
            assert type(finding.actual) is type(rollup.first.actual)
            assert finding.where is not None and not finding.where.sets_value
    # A user left on its own differs from its layer: the layer passes, holds another value,
    # or the rule does not judge it.
    held = {
        (r.first.rule_code, r.layer.ref.id): r.first.actual
        for r in layers
        if r.layer is not None
    }
    for rollup in rollups:
        finding = rollup.first
        if rollup.scope != "target" or finding.level != "user" or not finding.target.groups:
            continue
        group = next(t for t in result.targets if t.ref.name == finding.target.groups[0])
        layer_value = held.get((finding.rule_code, group.ref.id), object())
        assert layer_value != finding.actual or type(layer_value) is not type(finding.actual)


def test_the_sarif_locations_are_repo_files(audited: tuple[Path, Expected, AuditResult]) -> None:
    repo, _expected, result = audited
    document = audit_sarif.audit_sarif(result)
    places = {
        (
            found["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        )
        for found in document["runs"][0]["results"]
    }
    assert places and all(base == "REPO" and (repo / uri).is_file() for base, uri in places)
    if SCHEMA_PATH.is_file():
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        validator_for(schema)(schema).validate(document)
    assert ("REPO", "policies/audit-test.yaml") in places  # the repo's own pack: its rule line


def test_a_tiny_cap_rolls_the_sarif_up_further_and_the_command_says_so(
    audited: tuple[Path, Expected, AuditResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _expected, result = audited
    layer_results = count_roll_ups(result, Depth.LAYER)
    group_results = count_roll_ups(result, Depth.GROUP)
    assert group_results < layer_results
    limits = audit_sarif.SarifLimits(max_results=group_results)
    monkeypatch.setattr(audit_sarif, "DEFAULT_LIMITS", limits)
    out = repo.parent / "audit.sarif"
    ran = CliRunner().invoke(
        cli, ["audit", str(repo), "--sandbox", "--format", "sarif", "--out", str(out)]
    )
    assert ran.exit_code == 2, ran.output
    run = json.loads(out.read_text())["runs"][0]
    reason = (
        f"{layer_results:,} results per layer (a layer's failure with the users who inherit "
        f"it) exceed the {group_results:,} that code scanning takes per upload"
    )
    assert run["properties"]["rollup"]["depth"] == "group"
    assert run["properties"]["rollup"]["reason"] == reason
    assert len(run["results"]) == group_results
    scopes = Counter(r["properties"]["scope"] for r in run["results"])
    assert scopes["layer"] > 0 and scopes["group"] > 0
    for found in run["results"]:
        properties = found["properties"]
        if properties["scope"] == "group":
            group = properties["group"]
            whose = f"of group {group}" if group is not None else "with no group"
            assert found["message"]["text"].startswith(f"{properties['count']:,} users {whose}: ")
            assert properties["by_level"] == {"user": properties["count"]}
    assert sum(r["properties"].get("count", 1) for r in run["results"]) == len(result.findings)
    assert (
        "note: SARIF rolled up per rule and group (the other users' findings): "
        f"{reason}; the JSON report has every finding"
    ) in ran.stderr.splitlines()


def test_a_tinier_cap_rolls_up_per_rule_and_level(
    audited: tuple[Path, Expected, AuditResult],
) -> None:
    _repo, _expected, result = audited
    chunks, choice = audit_sarif.choose(result, audit_sarif.SarifLimits(max_results=10))
    text = "".join(chunks())
    group_results = count_roll_ups(result, Depth.GROUP)
    assert (choice.depth, choice.within_limits) == (Depth.LEVEL, True)
    assert choice.reason == (
        f"{group_results:,} results per rule and group (the other users' findings) exceed the "
        "10 that code scanning takes per upload"
    )
    results = json.loads(text)["runs"][0]["results"]
    assert len(results) == choice.results <= 10
    assert sum(r["properties"].get("count", 1) for r in results) == len(result.findings)


# -- the rule, case by case (built results, no Zoom) ---------------------------------------------


def _scopes(result: AuditResult) -> list[tuple[str, str, int]]:
    return [(r.scope, r.first.target.label, r.count) for r in roll_up(result)]


LAYERED = [
    ("layer", "account", 3), ("layer", "group Sales", 4), ("target", "user h@acme.test", 1),
    ("target", "user m@acme.test", 1),
]  # fmt: skip


def test_the_layered_result_rolls_up_to_the_account_and_sales() -> None:
    assert _scopes(layered()) == LAYERED


def test_a_value_equal_but_of_another_type_is_the_users_own() -> None:
    result = layered()
    findings = list(result.findings)
    index = next(i for i, f in enumerate(findings) if f.target.ref.email == "s2@acme.test")
    findings[index] = dataclasses.replace(findings[index], actual=1)  # 1 == True in Python
    result.findings = findings
    assert _scopes(result)[1] == ("layer", "group Sales", 3)
    assert ("target", "user s2@acme.test", 1) in _scopes(result)


def test_a_group_name_two_groups_share_is_no_layer() -> None:
    result = layered()
    result.targets.append(AuditTarget(TargetRef("group", "g-sales-2", name="Sales")))
    scopes = _scopes(result)
    assert scopes[1] == ("target", "group Sales", 1)
    assert [s for s in scopes if s[1].startswith("user s")] == [
        ("target", f"user s{n}@acme.test", 1) for n in (1, 2, 3)
    ]


def test_a_rule_that_reads_two_fields_or_skips_groups_leaves_members_their_own() -> None:
    result = layered()
    rule = result.rules[0]
    two = dataclasses.replace(
        rule,
        reads=dataclasses.replace(
            rule.reads, fields=rule.reads.fields | {("general", ("in_meeting", "chat"))}
        ),
    )
    result.findings = [dataclasses.replace(f, rule=two) for f in result.findings]
    assert [scope for scope, _label, _n in _scopes(result)] == ["target"] * 9
    no_groups = dataclasses.replace(rule, levels=("account", "user"))
    result = layered()
    result.findings = [dataclasses.replace(f, rule=no_groups) for f in result.findings]
    scopes = _scopes(result)
    assert scopes[0] == ("layer", "account", 3)  # the users with no group still inherit
    assert ("target", "user s1@acme.test", 1) in scopes
