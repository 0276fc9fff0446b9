"""The scorecard at the top of every audit format, from one CIS audit of the Acme sandbox with
`--evidence` (all five formats of one result): CIS 1.1.1.5, which no API can check, is a manual
row everywhere, with what to check by hand."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema.validators import validator_for
from junitparser import JUnitXml, Skipped

from reconciler.audit.model import AuditResult, PackInfo
from reconciler.cli import cli
from reconciler.policy import load_shipped
from reconciler.policy.manual import ManualItem
from reconciler.render import audit_html, audit_junit, audit_markdown
from tests.audit.test_sarif import SCHEMA_PATH
from tests.plan.sandbox_repo import prepare

ROOM_PASSCODE = "cis-zoom-1.0/cis-1.1.1.5"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("cis") / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text("policies: [cis-zoom-1.0]\n", encoding="utf-8")
    prepare(repo)
    folder = repo.parent / "evidence"
    result = CliRunner().invoke(
        cli, ["audit", str(repo), "--sandbox", "--quiet", "--evidence", str(folder)]
    )
    assert result.exit_code == 2, result.output  # Acme fails some CIS rules
    return folder


def _check() -> str:
    (item,) = [m for m in load_shipped("cis-zoom-1.0").manual if m.id == "cis-1.1.1.5"]
    return item.check


def test_json_lists_cis_1_1_1_5_as_manual(evidence: Path) -> None:
    report: dict[str, Any] = json.loads(gzip.decompress((evidence / "audit.json.gz").read_bytes()))
    assert list(report)[:9] == [
        "kind", "format_version", "tool_version", "account_id", "started_at", "finished_at",
        "repo", "summary", "scorecard",
    ]  # fmt: skip
    (card,) = report["scorecard"]
    rows = {row["item"]: row for row in card["rows"]}
    assert rows["1.1.1.5"]["status"] == "manual"
    assert rows["1.1.1.5"]["check"] == _check()
    assert card["totals"]["manual"] == 41
    assert sum(card["totals"].values()) == len(card["rows"]) == 171
    manual = {item["id"]: item for item in report["manual"]}
    assert manual[ROOM_PASSCODE]["item"] == "1.1.1.5"
    assert manual[ROOM_PASSCODE]["profile"] == 2
    assert len(manual) == 41
    # The item two rules check (participant_video at account and groups, participants_video
    # at users) is one row, counting each level once.
    video = rows["1.1.2.3"]
    assert video["rules"] == ["cis-zoom-1.0/cis-1.1.2.3", "cis-zoom-1.0/cis-1.1.2.3-user"]
    assert list(video["counts"]) == ["account", "group", "user"]
    assert sum(video["counts"]["user"].values()) == report["summary"]["targets_by_level"]["user"]


def test_junit_has_the_manual_items_as_skipped_cases(evidence: Path) -> None:
    xml = JUnitXml.fromstring(gzip.decompress((evidence / "audit.junit.xml.gz").read_bytes()))
    suites = list(xml)
    manual = suites[0]
    assert (manual.name, manual.tests, manual.skipped, manual.failures) == (
        "reconciler/manual", 41, 41, 0,
    )  # fmt: skip
    cases = {case.name: case for case in manual}
    case = cases["1.1.1.5: Zoom Rooms meetings (Room Meeting ID) need a passcode"]
    assert case.classname == "cis-zoom-1.0/manual"
    (skipped,) = case.result
    assert isinstance(skipped, Skipped)
    assert skipped.message == _check()
    assert xml.tests == sum(suite.tests for suite in suites)
    assert xml.skipped == sum(suite.skipped for suite in suites)
    properties = {prop.name: prop.value for prop in manual.properties()}
    assert properties["cis-zoom-1.0 1.1.1.5"] == "manual"
    assert len(properties) == 171


def test_sarif_stays_valid_and_carries_the_scorecard(evidence: Path) -> None:
    document = json.loads(gzip.decompress((evidence / "audit.sarif.gz").read_bytes()))
    if SCHEMA_PATH.is_file():
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        validator = validator_for(schema)(schema)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == []
    (run,) = document["runs"]
    (card,) = run["properties"]["scorecard"]
    rows = {row["item"]: row for row in card["rows"]}
    assert rows["1.1.1.5"] == {
        "item": "1.1.1.5",
        "title": "Zoom Rooms meetings (Room Meeting ID) need a passcode",
        "status": "manual",
        "check": _check(),
    }
    assert card["totals"]["manual"] == 41


def test_markdown_and_html_open_with_the_scorecard(evidence: Path) -> None:
    markdown = (evidence / "audit.md").read_text(encoding="utf-8")
    heading = "#### Scorecard: CIS Zoom Benchmark v1.0.0 (`cis-zoom-1.0`)"
    assert heading in markdown
    assert markdown.index(heading) < markdown.index("#### Findings")
    (row,) = [line for line in markdown.splitlines() if line.startswith("| `1.1.1.5` |")]
    assert "📝 manual" in row and "Room Meeting ID" in row
    page = (evidence / "audit.html").read_text(encoding="utf-8")
    assert page.index('<section id="scorecard">') < page.index('<section id="summary">')
    assert '<tr data-item="1.1.1.5" data-status="manual">' in page


def test_a_packs_hostile_manual_text_is_escaped_in_every_format() -> None:
    hostile = ManualItem(
        "ours", "m1", "m1", "<script>alert(1)</script> | x", '"/><b>check</b>\x1b[31m', "p.yaml", 4
    )
    result = AuditResult(packs=[PackInfo("ours", "Ours", "p.yaml", "", None, (hostile,))])
    page = _rendered(audit_html.render, result)
    assert "<script>alert" not in page and "<b>check" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | x" in page
    markdown = _rendered(audit_markdown.render, result)
    (row,) = [line for line in markdown.splitlines() if line.startswith("| `ours/m1` |")]
    assert "\\<script\\>alert(1)\\</script\\> \\| x" in row and "\x1b" not in row
    xml = JUnitXml.fromstring(_rendered(audit_junit.render, result))
    (case,) = list(next(iter(xml)))
    (skipped,) = case.result
    assert skipped.message == '"/><b>check</b>\\x1b[31m'


def _rendered(render: Any, result: AuditResult) -> str:
    out = io.StringIO()
    render(result, out)
    return out.getvalue()
