"""`reconciler audit` end to end on a 500-user sandbox tenant: every drifted field, every failing
rule and every unreadable target is in every format (SARIF and HTML as roll-ups), and nothing
else; the formats agree."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml

from reconciler.audit.evidence import Verification, verify
from reconciler.cli import cli
from tests.audit.tenant import RULES, Expected, seeded_repo, unreadable_rules
from tests.plan.sandbox_repo import failing_reads


class _Rows(HTMLParser):
    """The findings rows: a finding's fingerprint, or a roll-up's with its count."""

    def __init__(self) -> None:
        super().__init__()
        self.fingerprints: list[str] = []
        self.rolled_up: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-fingerprint"):
            if found.get("data-count"):
                self.rolled_up.append(int(str(found["data-count"])))
            else:
                self.fingerprints.append(str(found["data-fingerprint"]))


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected, Any, int]:
    repo = tmp_path_factory.mktemp("audit") / "repo"
    repo.mkdir()
    _tenant, expected = asyncio.run(seeded_repo(repo))
    evidence = repo.parent / "evidence"
    connector = failing_reads(repo, unreadable_rules(expected))
    result = CliRunner().invoke(
        cli,
        ["audit", str(repo), "--sandbox", "--format", "json", "--evidence", str(evidence)],
        obj=connector,
    )
    report = json.loads(result.stdout)
    return evidence, expected, report, result.exit_code


def _label(finding: dict[str, Any]) -> str:
    level, target = finding["level"], finding["target"]
    if level == "account":
        return "account"
    return f"{level} {target.get('email') or target.get('name')}"


def _field(finding: dict[str, Any]) -> str:
    field = finding["field"]
    return f"{field['family']}.{field['path']}"


def test_the_json_report_holds_exactly_the_tenants_known_findings(audited: Any) -> None:
    _evidence, expected, report, code = audited
    assert code == 1  # some targets could not be read, and --allow-unknown was not given
    findings = report["findings"]
    drift = {(_label(f), _field(f)) for f in findings if f["kind"] == "drift"}
    failing = {(f["rule"], _label(f)) for f in findings if f["kind"] == "policy"}
    unknown = {_label(f) for f in findings if f["kind"] == "read"}
    assert drift == expected.drift
    assert failing == expected.failing
    assert unknown == expected.unknown
    assert {f["status"] for f in findings if f["kind"] == "policy"} == {"fail"}
    assert len(expected.drift) >= 10 and len(expected.failing) >= 50  # the key is not trivial
    assert report["summary"]["targets"] == expected.targets
    assert report["summary"]["unknown_targets"] == 3
    for rule in report["rules"]:
        counts = rule["counts"]
        fails = sum(1 for r, _label in expected.failing if r == rule["id"])
        assert counts["fail"] == fails
        assert counts["unknown"] == 3  # the unreadable users, at the user level of each rule
    # Drift is located at the file and line that asks for the value.
    for finding in findings:
        if finding["kind"] == "drift" and finding["level"] == "user":
            assert finding["source"]["file"] == f"users/{finding['target']['email']}.yaml"
            assert finding["source"]["line"] == 3


def test_every_format_lists_the_same_findings(audited: Any) -> None:
    evidence, expected, report, _code = audited
    fingerprints = sorted(f["fingerprint"] for f in report["findings"])
    saved = json.loads(gzip.decompress((evidence / "audit.json.gz").read_bytes()))
    assert saved == report  # the bundle's gzipped JSON is the report on stdout
    # SARIF and HTML roll a layer's failure up with the users who inherit it: each finding is a
    # result (a row) of its own, or counted in exactly one roll-up.
    sarif = json.loads(gzip.decompress((evidence / "audit.sarif.gz").read_bytes()))
    results = sarif["runs"][0]["results"]
    single = [r for r in results if r["properties"]["scope"] == "target"]
    rolled = [r for r in results if r["properties"]["scope"] == "layer"]
    assert len(single) + len(rolled) == len(results)
    assert rolled, "the tenant's groups fail the waiting room for members who inherit it"
    own = sorted(r["partialFingerprints"]["reconcilerFinding/v1"] for r in single)
    assert set(own) <= set(fingerprints) and len(set(own)) == len(own)
    assert len(own) + sum(r["properties"]["count"] for r in rolled) == len(fingerprints)
    assert sarif["runs"][0]["properties"]["rollup"]["depth"] == "layer"
    rows = _Rows()
    rows.feed((evidence / "audit.html").read_text())
    assert sorted(rows.fingerprints) == own
    assert sorted(rows.rolled_up) == sorted(r["properties"]["count"] for r in rolled)
    junit = JUnitXml.fromstring(gzip.decompress((evidence / "audit.junit.xml.gz").read_bytes()))
    failed: set[tuple[str, str]] = set()
    errors: set[tuple[str, str]] = set()
    for suite in junit:
        for case in suite:
            kinds = {type(item) for item in case.result}
            if Failure in kinds:
                failed.add((str(suite.name).split(":")[0], str(case.name)))
            if Error in kinds:
                errors.add((str(suite.name).split(":")[0], str(case.name)))
    policy_failed = {(rule, label) for rule, label in failed if rule in RULES}
    assert policy_failed == expected.failing
    drifted_targets = {label for label, _field in expected.drift}
    assert {label for suite, label in failed if suite == "reconciler/drift"} == drifted_targets
    assert {
        label for suite, label in errors if suite == "reconciler/unreadable"
    } == expected.unknown
    markdown = (evidence / "audit.md").read_text()
    for label in expected.unknown:
        assert label.removeprefix("user ") in markdown
    rows = [line for line in markdown.splitlines() if line.startswith(("| ❌", "| ⚠️", "| ❓"))]
    # Cut to GitHub's comment limit: the rows shown and the count left out add up to them all.
    assert len(markdown) <= 65_536
    cut = re.search(r"\*\*(\d+) findings? not shown \(comment limit\)", markdown)
    assert len(rows) + (int(cut.group(1)) if cut else 0) == len(fingerprints)


def test_the_evidence_manifest_covers_every_file_and_detects_an_edit(audited: Any) -> None:
    evidence, _expected, report, _code = audited
    manifest = json.loads((evidence / "manifest.json").read_text())
    names = {entry["path"] for entry in manifest["files"]}
    reports = {"audit.json.gz", "audit.md", "audit.junit.xml.gz", "audit.sarif.gz", "audit.html"}
    assert reports <= names
    assert any(name.endswith(".jsonl.gz") for name in names)
    assert manifest["account_id"] == report["account_id"]
    assert [p["sha256"] for p in manifest["packs"]] == [p["sha256"] for p in report["packs"]]
    assert verify(evidence) == Verification(len(names), [])
    html = evidence / "audit.html"
    html.write_text(html.read_text().replace("audit", "audlt", 1))
    assert verify(evidence).problems == [
        "audit.html: was edited: its sha256 is not the one the manifest records"
    ]
