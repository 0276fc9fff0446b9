"""The audit's SARIF: valid against the SARIF 2.1.0 schema, one result per roll-up (a finding of
its own target, or a layer's failure with the users who inherit it), located in the settings
repo where the value is set (else at the reconciler.yaml line that enables the pack), rolled up
further when over the caps, acknowledged findings suppressed, fingerprints stable."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from reconciler.audit.model import (
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    RuleOutcome,
    Where,
)
from reconciler.audit.rollup import Depth
from reconciler.diff import MISSING
from reconciler.render import audit_sarif
from reconciler.targets import TargetRef
from tests.audit.layered import enabled_sample, layered
from tests.audit.sample import ACK, EVE, sample

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "shared/sarif/sarif-schema-2.1.0.json"
BASELINE = "zoom-security-baseline"
WAITING_ROOM = f"{BASELINE}/zsb-waiting-room"
USER_WAITING_ROOM = f"{BASELINE}/zsb-user-keeps-waiting-room"


def rendered(result: AuditResult) -> str:
    out = io.StringIO()
    audit_sarif.render(result, out)
    return out.getvalue()


def sarif(result: AuditResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(rendered(result))
    return document


def run_of(result: AuditResult) -> dict[str, Any]:
    runs = sarif(result)["runs"]
    assert len(runs) == 1
    run: dict[str, Any] = runs[0]
    return run


def passes_only() -> AuditResult:
    """The sample's rules and readable targets, every judged outcome a pass, no findings."""
    base = sample()
    targets = [target for target in base.targets if target.unknown is None]
    result = AuditResult(
        account_id=base.account_id, tool_version=base.tool_version, rules=base.rules,
        targets=targets, packs=base.packs,
    )  # fmt: skip
    for rule in base.rules:
        result.outcomes[f"{rule.pack}/{rule.id}"] = bytearray(
            RuleOutcome.PASS if target.ref.kind in rule.levels else RuleOutcome.NOT_JUDGED
            for target in targets
        )
    result.drift_judged = {0: 0, 1: 0}
    return result


def hostile_paths() -> AuditResult:
    """A finding whose file is named after a hostile email: the URI must still be one."""
    result = sample()
    result.findings = [
        dataclasses.replace(
            result.findings[0],
            target=EVE,
            where=Where('users/eve<script>"x"@acme.test.yaml', 2, 1),
        )
    ]
    return result


def one_severity_each() -> AuditResult:
    """One rule and one failing finding per severity."""
    base = sample()
    template = base.rules[0]
    rules = [
        dataclasses.replace(template, id=f"sev-{severity}", severity=severity)
        for severity in ("critical", "high", "medium", "low")
    ]
    target = base.targets[1]
    findings = [
        AuditFinding(
            FindingKind.POLICY, FindingStatus.FAIL, target, "meeting_security", "waiting_room",
            f"{rule.id} fails", Where("groups/sales.yaml", 4, 5), rule=rule,
        )
        for rule in rules
    ]  # fmt: skip
    return AuditResult(tool_version="0.1.0", rules=rules, targets=[target], findings=findings)


def hostile_pack_text() -> AuditResult:
    """A repo pack whose rule text carries HTML, a comment opener and Markdown."""
    result = sample()
    result.rules = [
        dataclasses.replace(
            result.rules[0],
            rationale="Keep <script>alert(1)</script> out.\n<!-- hide the rest *bold* [x](y)",
            references=("https://example.test/a_b#c", "see <!-- here --> `x`"),
            remedy={"meeting_security": {"waiting_room": "`<b>`|"}},
            file="policies/our<b>s.yaml",
        ),
        *result.rules[1:],
    ]
    return result


@pytest.fixture(scope="module")
def schema_validator() -> Any:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"the SARIF 2.1.0 schema is not at {SCHEMA_PATH} (the shared data folder)")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@pytest.mark.parametrize(
    "build",
    [sample, AuditResult, passes_only, hostile_paths, one_severity_each, hostile_pack_text],
    ids=[
        "sample",
        "empty",
        "passes-only",
        "hostile-paths",
        "one-severity-each",
        "hostile-pack-text",
    ],
)
def test_the_sarif_is_valid_against_the_schema(schema_validator: Any, build: Any) -> None:
    errors = sorted(schema_validator.iter_errors(sarif(build())), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_run_names_the_tool_the_bases_and_the_audit() -> None:
    document = sarif(sample())
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "reconciler"
    assert driver["version"] == "0.1.0"
    assert driver["informationUri"] == audit_sarif.INFORMATION_URI
    assert set(run["originalUriBaseIds"]) == {"REPO"}
    assert "settings repository" in run["originalUriBaseIds"]["REPO"]["description"]["text"]
    properties = run["properties"]
    assert properties["account_id"] == "sandbox-account"
    assert properties["started_at"] == "2026-12-01T10:00:00+00:00"
    assert properties["finished_at"] == "2026-12-01T10:00:04+00:00"
    assert properties["repo_commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_one_descriptor_per_rule_then_drift_and_unreadable() -> None:
    result = sample()
    rules = run_of(result)["tool"]["driver"]["rules"]
    codes = [f"{rule.pack}/{rule.id}" for rule in result.rules]
    assert [rule["id"] for rule in rules] == [*codes, "reconciler/drift", "reconciler/unreadable"]
    waiting_room = rules[0]
    assert waiting_room["name"] == "ZsbWaitingRoom"
    assert waiting_room["shortDescription"]["text"] == result.rules[0].title
    assert waiting_room["fullDescription"]["text"] == result.rules[0].rationale
    assert waiting_room["help"]["text"].startswith(result.rules[0].rationale)
    assert "meeting_security.waiting_room: true" in waiting_room["help"]["text"]
    assert "`meeting_security.waiting_room: true`" in waiting_room["help"]["markdown"]
    assert waiting_room["defaultConfiguration"] == {"level": "error"}
    assert waiting_room["properties"]["security-severity"] == "7.0"
    assert waiting_room["properties"]["tags"] == ["security", BASELINE]
    assert waiting_room["properties"]["precision"] == "high"
    drift, unreadable = rules[-2:]
    assert drift["defaultConfiguration"] == {"level": "warning"}
    assert drift["properties"]["security-severity"] == "5.0"
    assert unreadable["defaultConfiguration"] == {"level": "error"}
    assert unreadable["properties"]["security-severity"] == "7.0"


def test_a_packs_html_and_comments_reach_help_markdown_escaped() -> None:
    result = hostile_pack_text()
    rule = run_of(result)["tool"]["driver"]["rules"][0]
    assert rule["help"]["markdown"] == (
        "Keep \\<script\\>alert(1)\\</script\\> out. \\<!-- hide the rest \\*bold\\* "
        "\\[x\\](y)\n\n"
        "**References**\n\n"
        "- <https://example.test/a_b#c>\n"
        "- see \\<!-- here --\\> \\`x\\`\n\n"
        "**To comply**, set in the target's settings file:\n\n"
        '- ``meeting_security.waiting_room: "`<b>`\\|"``\n\n'
        f"Defined in `policies/our<b>s.yaml` line {result.rules[0].line}; levels: group, account."
    )
    assert "<script>" not in rule["help"]["markdown"]
    assert "\n<!--" not in rule["help"]["markdown"] and " <!--" not in rule["help"]["markdown"]


def test_one_result_per_finding_with_its_rule() -> None:
    result = sample()
    run = run_of(result)
    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        WAITING_ROOM,
        "reconciler/drift",
        "reconciler/drift",
        USER_WAITING_ROOM,
        "reconciler/drift",
        USER_WAITING_ROOM,
        USER_WAITING_ROOM,
        "reconciler/unreadable",
    ]
    rules = run["tool"]["driver"]["rules"]
    for found in results:
        assert rules[found["ruleIndex"]]["id"] == found["ruleId"]
    assert [r["properties"]["status"] for r in results] == [f.status.value for f in result.findings]
    assert [r["properties"]["kind"] for r in results] == [f.kind.value for f in result.findings]
    assert [r["properties"]["target"] for r in results] == [f.target.label for f in result.findings]
    assert [r["properties"]["level"] for r in results] == [f.level for f in result.findings]


def test_each_result_is_located_where_its_value_is_set() -> None:
    locations = []
    for found in run_of(enabled_sample())["results"]:
        assert len(found["locations"]) == 1
        physical = found["locations"][0]["physicalLocation"]
        artifact, region = physical["artifactLocation"], physical["region"]
        locations.append(
            (artifact["uri"], artifact["uriBaseId"], region["startLine"], region["startColumn"])
        )
    assert locations == [
        ("groups/sales.yaml", "REPO", 4, 5),
        ("groups/sales.yaml", "REPO", 7, 7),
        ("account.yaml", "REPO", 12, 5),
        ("users/alice@acme.test.yaml", "REPO", 3, 3),
        ("users/alice@acme.test.yaml", "REPO", 3, 3),
        ("reconciler.yaml", "REPO", 2, 5),
        ("reconciler.yaml", "REPO", 2, 5),
        ("reconciler.yaml", "REPO", 1, 1),
    ]


def test_an_unreadable_target_says_where_it_is_shown() -> None:
    unreadable = run_of(sample())["results"][-1]
    text = unreadable["message"]["text"]
    assert text.startswith("user gone@acme.test: the read failed: 404 user does not exist")
    assert "no file sets this, so it is shown at reconciler.yaml" in text
    assert unreadable["level"] == "error"
    assert unreadable["properties"]["field"] is None
    assert unreadable["properties"]["cause"] == "404 user does not exist"


def test_only_the_acknowledged_finding_is_suppressed_as_accepted() -> None:
    results = run_of(sample())["results"]
    suppressed = [index for index, found in enumerate(results) if "suppressions" in found]
    assert suppressed == [5]
    acknowledged = results[5]
    assert acknowledged["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": (
                f"{ACK.reason} (owner {ACK.owner}, until {ACK.expires}, acknowledged.yaml:3)"
            ),
        }
    ]
    # Still reported at its rule's level: the suppression, not the level, says it is accepted.
    assert acknowledged["level"] == "error"
    assert acknowledged["properties"]["status"] == "acknowledged"


def test_fingerprints_are_the_findings_stable_and_distinct() -> None:
    result = sample()
    assert rendered(result) == rendered(sample())
    prints = [
        found["partialFingerprints"]["reconcilerFinding/v1"] for found in run_of(result)["results"]
    ]
    assert prints == [finding.fingerprint for finding in result.findings]
    assert len(set(prints)) == len(prints)


def test_levels_and_security_severity_follow_the_severity() -> None:
    run = run_of(one_severity_each())
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    expected = {
        "critical": ("error", "9.0"),
        "high": ("error", "7.0"),
        "medium": ("warning", "5.0"),
        "low": ("note", "3.0"),
    }
    for found in run["results"]:
        severity = found["ruleId"].rsplit("-", 1)[1]
        level, security = expected[severity]
        assert found["level"] == level
        rule = rules[found["ruleId"]]
        assert rule["defaultConfiguration"]["level"] == level
        assert rule["properties"]["security-severity"] == security
    assert len(run["results"]) == 4


def test_the_sample_levels_per_finding() -> None:
    levels = [found["level"] for found in run_of(sample())["results"]]
    assert levels == ["error", "warning", "warning", "error", "warning", "error", "error", "error"]


def test_the_hostile_email_is_kept_verbatim_in_json() -> None:
    text = rendered(sample())
    assert '"user eve<script>\\"x\\"@acme.test: meeting_security.waiting_room: ' in text
    assert "\\u003c" not in text
    assert "&lt;" not in text
    eve = run_of(sample())["results"][6]
    assert eve["properties"]["target"] == 'user eve<script>"x"@acme.test'


def test_a_hostile_file_name_is_percent_encoded_in_the_uri() -> None:
    found = run_of(hostile_paths())["results"][0]
    artifact = found["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact["uri"] == "users/eve%3Cscript%3E%22x%22@acme.test.yaml"


def test_hidden_characters_cannot_break_the_message_line() -> None:
    result = sample()
    sneaky = AuditTarget(TargetRef("user", "u-s", email="s\n::error::x\u202e@acme.test"))
    result.findings = [dataclasses.replace(result.findings[-1], target=sneaky)]
    found = run_of(result)["results"][0]
    assert "\n" not in found["message"]["text"]
    assert "s\\n::error::x\\u202e@acme.test" in found["message"]["text"]
    assert found["properties"]["target"] == "user s\n::error::x\u202e@acme.test"


def test_nothing_of_a_finding_is_lost() -> None:
    result = sample()
    for finding, found in zip(result.findings, run_of(result)["results"], strict=True):
        text = found["message"]["text"]
        assert finding.message in text
        assert finding.target.label in text
        properties = found["properties"]
        if finding.family is not None:
            assert finding.field_label in text
            assert properties["field"] == finding.field_label
        if finding.actual is not MISSING:
            assert properties["actual"] == finding.actual
            assert f"actual {json.dumps(finding.actual)}" in text
        else:
            assert "actual" not in properties
        if finding.expected is not MISSING:
            assert properties["expected"] == finding.expected
            assert f"expected {json.dumps(finding.expected)}" in text
        if finding.locked_by is not None:
            assert properties["locked_by"] == finding.locked_by
            assert f"locked by {finding.locked_by}" in text
        assert properties["severity"] == finding.severity


def test_an_empty_audit_has_the_two_builtin_rules_and_no_results() -> None:
    run = run_of(AuditResult())
    assert run["results"] == []
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        "reconciler/drift",
        "reconciler/unreadable",
    ]


def test_passes_make_no_results() -> None:
    run = run_of(passes_only())
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(sample().rules) + 2
    assert run["properties"]["clean"] is True


# -- roll-ups -----------------------------------------------------------------------------------

JOIN_BEFORE_HOST = f"{BASELINE}/zsb-join-before-host-off"


def test_a_layers_failure_and_the_users_who_inherit_it_are_one_result() -> None:
    results = run_of(layered())["results"]
    assert [r["properties"]["scope"] for r in results] == ["layer", "layer", "target", "target"]
    account, sales, helper, managed = results
    assert account["message"]["text"] == (
        "account and 2 users with no group: settings.schedule_meeting.join_before_host: "
        "zsb-join-before-host-off (Participants cannot join before the host) fails "
        "(actual true, expected false); a1@acme.test, a2@acme.test; no repo file sets this, "
        "so it is shown at reconciler.yaml:2, which enables the pack"
    )
    assert account["properties"] == {
        "scope": "layer", "count": 3, "by_level": {"account": 1, "user": 2},
        "sample": ["account", "user a1@acme.test", "user a2@acme.test"], "status": "fail",
        "kind": "policy", "severity": "high", "field": "settings.schedule_meeting.join_before_host",
        "layer": "account", "inherited": 2, "actual": True, "expected": False,
    }  # fmt: skip
    assert sales["properties"]["count"] == 4
    assert sales["properties"]["sample"] == [
        "group Sales", "user s1@acme.test", "user s2@acme.test", "user s3@acme.test",
    ]  # fmt: skip
    assert sales["message"]["text"].startswith("group Sales and 3 of its users: ")
    # The Sales failure is set by the group's file: that line is where the roll-up is shown.
    region = sales["locations"][0]["physicalLocation"]
    assert region["artifactLocation"] == {"uri": "groups/sales.yaml", "uriBaseId": "REPO"}
    assert region["region"] == {"startLine": 4, "startColumn": 5}
    assert helper["properties"]["target"] == "user h@acme.test"  # Support passes: her own
    assert managed["properties"]["target"] == "user m@acme.test"  # the repo sets hers
    uri = managed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "users/m@acme.test.yaml"
    assert len({r["partialFingerprints"][audit_sarif.FINGERPRINT_KEY] for r in results}) == 4


def test_the_roll_up_is_noted_in_the_run_when_not_further() -> None:
    rollup = run_of(layered())["properties"]["rollup"]
    assert rollup == {
        "depth": "layer", "reason": None, "max_results": 25_000,
        "max_gzip_bytes": 10_000_000, "sample_size": 10,
    }  # fmt: skip
    assert audit_sarif.roll_up_note(layered()) is None


def test_over_the_result_cap_the_findings_roll_up_per_rule_and_level(schema_validator: Any) -> None:
    limits = audit_sarif.SarifLimits(max_results=3)
    document = audit_sarif.audit_sarif(layered(), limits)
    assert not list(schema_validator.iter_errors(document))
    run = document["runs"][0]
    assert [(r["properties"]["scope"], r["properties"]["level"]) for r in run["results"][:2]] == [
        ("target", "account"), ("target", "group"),
    ]  # fmt: skip
    users = run["results"][2]
    assert (users["properties"]["scope"], users["properties"]["count"]) == ("level", 7)
    assert users["properties"]["by_level"] == {"user": 7}
    assert users["message"]["text"] == (
        "7 findings at the user level: settings.schedule_meeting.join_before_host: "
        "zsb-join-before-host-off (Participants cannot join before the host) fails; a1@acme.test, "
        "a2@acme.test, s1@acme.test, s2@acme.test, s3@acme.test, h@acme.test, m@acme.test; "
        "no repo file sets this, so it is shown at reconciler.yaml:2, which enables the pack"
    )
    reason = (
        "4 results per rule and group (the other users' findings) exceed the 3 that code "
        "scanning takes per upload"
    )
    assert run["properties"]["rollup"]["depth"] == "level"
    assert run["properties"]["rollup"]["reason"] == reason
    _text, choice = audit_sarif.choose(layered(), limits)
    assert choice.note == (
        f"SARIF rolled up per rule and level: {reason}; the JSON report has every finding"
    )


def test_a_tinier_cap_rolls_up_per_rule_and_a_byte_cap_too() -> None:
    run = audit_sarif.audit_sarif(layered(), audit_sarif.SarifLimits(max_results=2))["runs"][0]
    assert [r["properties"]["count"] for r in run["results"]] == [9]
    assert run["results"][0]["properties"]["by_level"] == {"account": 1, "group": 1, "user": 7}
    assert run["properties"]["rollup"]["depth"] == "rule"
    assert "more (the JSON report" not in run["results"][0]["message"]["text"]  # all 9 named
    _text, choice = audit_sarif.choose(layered(), audit_sarif.SarifLimits(max_gzip_bytes=100))
    assert (choice.depth, choice.within_limits) == (Depth.RULE, False)
    assert choice.reason is not None and "bytes gzipped per rule and level exceed the 100" in (
        choice.reason
    )


def test_the_sample_is_cut_and_says_how_many_more() -> None:
    limits = audit_sarif.SarifLimits(max_results=2, sample_size=3)
    found = audit_sarif.audit_sarif(layered(), limits)["runs"][0]["results"][0]
    assert found["properties"]["sample"] == ["account", "group Sales", "user a1@acme.test"]
    assert (
        "; e.g. account, Sales, a1@acme.test and 6 more (the JSON report lists every one)"
        in (found["message"]["text"])
    )


def test_a_shipped_packs_rule_without_an_enabling_line_is_shown_at_reconciler_yaml() -> None:
    results = run_of(sample())["results"]
    bob = results[5]
    assert bob["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "reconciler.yaml"
    assert bob["message"]["text"].endswith("; no file sets this, so it is shown at reconciler.yaml")


def test_the_streamed_sarif_is_what_json_dumps_of_its_document_writes() -> None:
    # Written a result at a time, it must still be the one document, spelled as json.dumps does.
    for result in (sample(), AuditResult(), layered()):
        out = io.StringIO()
        audit_sarif.render(result, out)
        text = out.getvalue()
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
        assert json.loads(text) == audit_sarif.audit_sarif(result)
