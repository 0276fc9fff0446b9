"""The audit's JUnit XML: a suite per rule with a case per target it judged, matching the outcome
bytes; drift and unreadable suites; correct counts; well-formed whatever the names hold."""

from __future__ import annotations

import dataclasses
import gc
import io
import tracemalloc
import xml.etree.ElementTree as ET

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite
from junitparser.junitparser import FinalResult

from reconciler.audit.model import (
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    RuleOutcome,
    Where,
)
from reconciler.policy import load_shipped
from reconciler.render import audit_junit
from reconciler.targets import TargetRef
from tests.audit.sample import ACK, ALICE, EVE, sample

BASELINE = "zoom-security-baseline"
WAITING_ROOM = f"{BASELINE}/zsb-waiting-room"
USER_WAITING_ROOM = f"{BASELINE}/zsb-user-keeps-waiting-room"
LOBBY = f"{BASELINE}/zsb-lobby-locked"
HOSTILE_LABEL = 'user eve<script>"x"@acme.test'
RESULT_TYPE = {
    RuleOutcome.PASS: None,
    RuleOutcome.FAIL: Failure,
    RuleOutcome.UNKNOWN: Error,
    RuleOutcome.NOT_APPLICABLE: Skipped,
    RuleOutcome.ACKNOWLEDGED: Skipped,
}


def rendered(result: AuditResult) -> str:
    out = io.StringIO()
    audit_junit.render(result, out)
    return out.getvalue()


def parsed(result: AuditResult) -> JUnitXml:
    xml = JUnitXml.fromstring(rendered(result))
    assert isinstance(xml, JUnitXml)
    return xml


def suites(result: AuditResult) -> dict[str, TestSuite]:
    return {suite.name: suite for suite in parsed(result)}


def cases(suite: TestSuite) -> dict[str, TestCase]:
    found = {case.name: case for case in suite}
    assert len(found) == suite.tests
    return found


def only_result(case: TestCase) -> FinalResult:
    results = case.result
    assert len(results) == 1, results
    result: FinalResult = results[0]
    return result


def suite_name(result: AuditResult, code: str) -> str:
    rule = next(rule for rule in result.rules if f"{rule.pack}/{rule.id}" == code)
    return f"{code}: {rule.title}"


def test_one_suite_per_rule_then_drift_and_unreadable() -> None:
    result = sample()
    names = [suite.name for suite in parsed(result)]
    assert names == [
        *(f"{rule.pack}/{rule.id}: {rule.title}" for rule in result.rules),
        "reconciler/drift",
        "reconciler/unreadable",
    ]


def test_every_rule_suite_matches_its_outcome_bytes() -> None:
    result = sample()
    found = suites(result)
    for rule in result.rules:
        code = f"{rule.pack}/{rule.id}"
        row = result.outcomes[code]
        suite = found[f"{code}: {rule.title}"]
        counts = result.rule_counts(code)
        assert suite.tests == sum(counts.values())
        assert suite.failures == counts["fail"]
        assert suite.errors == counts["unknown"]
        assert suite.skipped == counts["not_applicable"] + counts["acknowledged"]
        judged = [
            (result.targets[index].label, RuleOutcome(byte))
            for index, byte in enumerate(row)
            if byte != RuleOutcome.NOT_JUDGED
        ]
        listed = list(suite)
        assert [(case.classname, case.name) for case in listed] == [
            (code, label) for label, _ in judged
        ]
        for case, (_, outcome) in zip(listed, judged, strict=True):
            expected = RESULT_TYPE[outcome]
            if expected is None:
                assert case.result == []
            else:
                assert isinstance(only_result(case), expected)


def test_a_failure_carries_the_finding() -> None:
    result = sample()
    case = cases(suites(result)[suite_name(result, WAITING_ROOM)])["group Sales"]
    failure = only_result(case)
    assert isinstance(failure, Failure)
    assert failure.type == "fail"
    assert failure.message == result.findings[0].message
    assert failure.text is not None
    lines = failure.text.splitlines()
    assert lines[0] == result.findings[0].message
    assert lines[1:] == [
        "target: group Sales",
        "field: meeting_security.waiting_room",
        "actual: false",
        "expected: true",
        "source: groups/sales.yaml:4:5 (repo)",
    ]
    account = cases(suites(result)[suite_name(result, WAITING_ROOM)])["account"]
    assert account.result == []


def test_an_unknown_outcome_is_an_error_with_its_cause() -> None:
    result = sample()
    user_cases = cases(suites(result)[suite_name(result, USER_WAITING_ROOM)])
    eve = only_result(user_cases[HOSTILE_LABEL])
    assert isinstance(eve, Error)
    assert eve.type == "unknown"
    assert eve.message == "the rule could not be evaluated: no such key: waiting_room"
    assert eve.text is not None
    assert f"target: {HOSTILE_LABEL}" in eve.text
    assert "source: policies/zoom-security-baseline.yaml:24:5 (shipped pack)" in eve.text
    # No policy finding for an unreadable target: the cause is its failed read.
    gone = only_result(user_cases["user gone@acme.test"])
    assert isinstance(gone, Error)
    assert gone.message == "the read failed: 404 user does not exist"


def test_not_applicable_and_acknowledged_are_skipped_with_why() -> None:
    result = sample()
    lobby = only_result(cases(suites(result)[suite_name(result, LOBBY)])["account"])
    assert isinstance(lobby, Skipped)
    assert lobby.message == "not applicable"
    user_cases = cases(suites(result)[suite_name(result, USER_WAITING_ROOM)])
    bob = only_result(user_cases["user bob@acme.test"])
    assert isinstance(bob, Skipped)
    assert bob.message == (
        f"acknowledged by {ACK.owner} until {ACK.expires}: {ACK.reason} (acknowledged.yaml:3)"
    )
    alice = only_result(user_cases["user alice@acme.test"])
    assert isinstance(alice, Failure)
    assert alice.text is not None
    assert "source: users/alice@acme.test.yaml:3:3 (repo)" in alice.text


def test_the_drift_suite_has_a_case_per_judged_target() -> None:
    result = sample()
    drift = suites(result)["reconciler/drift"]
    assert (drift.tests, drift.failures, drift.errors, drift.skipped) == (3, 3, 0, 0)
    found = cases(drift)
    assert list(found) == ["account", "group Sales", "user alice@acme.test"]
    assert {case.classname for case in found.values()} == {"reconciler/drift"}
    alice = only_result(found["user alice@acme.test"])
    assert isinstance(alice, Failure)
    assert alice.type == "drift"
    assert alice.message == "1 managed field(s) drift: meeting_security.waiting_room"
    assert alice.text is not None
    assert alice.text.splitlines() == [
        "Zoom has false, the repo asks for true",
        "target: user alice@acme.test",
        "field: meeting_security.waiting_room",
        "actual: false",
        "expected: true",
        "locked by: group Sales",
        "source: users/alice@acme.test.yaml:3:3 (repo)",
    ]
    account = only_result(found["account"])
    assert account.message == "1 managed field(s) drift: locks.meeting_security.waiting_room"


def _drift(status: FindingStatus, path: str, line: int) -> AuditFinding:
    return AuditFinding(
        FindingKind.DRIFT, status, ALICE, "settings", path, f"{path} drifted",
        Where("users/alice@acme.test.yaml", line, 3), actual=False, expected=True,
        acknowledged=ACK if status is FindingStatus.ACKNOWLEDGED else None,
    )  # fmt: skip


def test_drift_lists_every_field_and_is_skipped_only_when_all_is_acknowledged() -> None:
    result = AuditResult(targets=[ALICE, EVE], drift_judged={0: 2, 1: 0})
    result.findings = [
        _drift(FindingStatus.DRIFT, "in_meeting.chat", 4),
        _drift(FindingStatus.ACKNOWLEDGED, "in_meeting.polling", 5),
    ]
    found = cases(suites(result)["reconciler/drift"])
    mixed = only_result(found["user alice@acme.test"])
    assert isinstance(mixed, Failure)
    assert mixed.message == "1 managed field(s) drift: settings.in_meeting.chat"
    assert mixed.text is not None
    assert "field: settings.in_meeting.chat" in mixed.text
    assert "field: settings.in_meeting.polling" in mixed.text
    assert "source: users/alice@acme.test.yaml:5:3 (repo)" in mixed.text
    assert found[HOSTILE_LABEL].result == []

    result.findings = [_drift(FindingStatus.ACKNOWLEDGED, "in_meeting.polling", 5)]
    drift = suites(result)["reconciler/drift"]
    assert (drift.tests, drift.failures, drift.skipped) == (2, 0, 1)
    skipped = only_result(cases(drift)["user alice@acme.test"])
    assert isinstance(skipped, Skipped)
    assert skipped.message.startswith(f"acknowledged by {ACK.owner} until {ACK.expires}: ")


def test_the_unreadable_suite_has_an_error_per_unreadable_target() -> None:
    unreadable = suites(sample())["reconciler/unreadable"]
    assert (unreadable.tests, unreadable.failures, unreadable.errors) == (1, 0, 1)
    error = only_result(cases(unreadable)["user gone@acme.test"])
    assert isinstance(error, Error)
    assert error.type == "unreadable"
    assert error.message == "404 user does not exist"
    assert error.text is not None
    assert "the read failed: 404 user does not exist" in error.text


def test_the_totals_are_the_sums_of_the_suites() -> None:
    xml = parsed(sample())
    listed = list(xml)
    assert xml.name == "reconciler audit"
    assert xml.tests == sum(suite.tests for suite in listed) == 68
    assert xml.failures == sum(suite.failures for suite in listed) == 5
    assert xml.errors == sum(suite.errors for suite in listed) == 12
    assert xml.skipped == sum(suite.skipped for suite in listed) == 2
    for suite in listed:
        outcomes = [type(r) for case in suite for r in case.result]
        assert suite.failures == outcomes.count(Failure)
        assert suite.errors == outcomes.count(Error)
        assert suite.skipped == outcomes.count(Skipped)


def test_the_xml_is_well_formed_with_the_hostile_email() -> None:
    text = rendered(sample())
    assert text.startswith("<?xml ")
    root = ET.fromstring(text)
    names = {case.get("name") for case in root.iter("testcase")}
    assert HOSTILE_LABEL in names
    assert "<script>" not in text
    failures = [el.text or "" for el in root.iter("error")]
    assert any(f"target: {HOSTILE_LABEL}" in body for body in failures)


def test_hidden_characters_are_escaped_so_the_xml_stays_valid() -> None:
    sneaky = AuditTarget(TargetRef("user", "u-s", email="s\x00\n\x1b\ud800\u202e@acme.test"))
    result = AuditResult(targets=[sneaky], drift_judged={0: 1})
    result.findings = [dataclasses.replace(_drift(FindingStatus.DRIFT, "a", 1), target=sneaky)]
    root = ET.fromstring(rendered(result))
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == ["user s\\x00\\n\\x1b\\ud800\\u202e@acme.test"]


def test_an_empty_audit_has_the_two_empty_suites() -> None:
    xml = parsed(AuditResult())
    assert [(suite.name, suite.tests) for suite in xml] == [
        ("reconciler/drift", 0),
        ("reconciler/unreadable", 0),
    ]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (0, 0, 0, 0)


def test_many_targets_each_get_their_own_finding() -> None:
    """Findings are looked up per (rule, target) once, so a big audit pairs each with its case."""
    base = sample()
    rules = [rule for rule in base.rules if "user" in rule.levels][:3]
    targets = [
        AuditTarget(TargetRef("user", f"u-{n}", email=f"user{n}@acme.test")) for n in range(3000)
    ]
    result = AuditResult(rules=rules, targets=targets)
    for rule in rules:
        code = f"{rule.pack}/{rule.id}"
        result.outcomes[code] = bytearray([RuleOutcome.FAIL, RuleOutcome.PASS] * 1500)
        result.findings.extend(
            AuditFinding(
                FindingKind.POLICY, FindingStatus.FAIL, target, "settings", "x",
                f"{code} fails for {target.label}", Where(f"users/{n}.yaml", n + 1), rule=rule,
            )
            for n, target in enumerate(targets)
            if n % 2 == 0
        )  # fmt: skip
    found = suites(result)
    for rule in rules:
        code = f"{rule.pack}/{rule.id}"
        suite = found[f"{code}: {rule.title}"]
        assert (suite.tests, suite.failures) == (3000, 1500)
        for case in suite:
            if case.result:
                failure = only_result(case)
                assert failure.message == f"{code} fails for {case.name}"


def test_the_stream_is_what_elementtree_writes_for_the_same_elements() -> None:
    """Streamed by hand, the XML is still byte for byte what `ET.indent` and `ET.write` give."""
    sneaky = AuditTarget(TargetRef("user", "u-s", email="s\"'&<>\t\ud800@acme.test"))
    hostile = AuditResult(targets=[sneaky], drift_judged={0: 1})
    hostile.findings = [dataclasses.replace(_drift(FindingStatus.DRIFT, "a", 1), target=sneaky)]
    for result in (sample(), hostile, AuditResult()):
        text = rendered(result)
        declaration, body = text.split("\n", 1)
        assert declaration == "<?xml version='1.0' encoding='utf-8'?>"
        root = ET.fromstring(body)
        ET.indent(root)
        assert body == ET.tostring(root, encoding="unicode") + "\n"


class CountingSink(io.TextIOBase):
    """A text sink that keeps nothing: it counts the characters written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


BIG_TARGETS, BIG_RULES, UNREADABLE_EVERY, DRIFT_EVERY = 20_000, 20, 1_000, 10
PATTERN = bytes(
    [RuleOutcome.PASS] * 12
    + [RuleOutcome.FAIL, RuleOutcome.FAIL, RuleOutcome.NOT_APPLICABLE]
    + [RuleOutcome.UNKNOWN, RuleOutcome.ACKNOWLEDGED, RuleOutcome.NOT_JUDGED]
)


def big_result() -> AuditResult:
    """20,000 users x 20 rules, every outcome present, half the failures with a finding."""
    rules = list(load_shipped("cis-zoom-1.0").rules[:BIG_RULES])
    targets = [
        AuditTarget(
            TargetRef("user", f"u-{n}", email=f"user{n}@acme.test"),
            unknown="read timed out" if n % UNREADABLE_EVERY == 0 else None,
        )
        for n in range(BIG_TARGETS)
    ]
    result = AuditResult(rules=rules, targets=targets)
    result.drift_judged = {n: n % 2 for n in range(0, BIG_TARGETS, DRIFT_EVERY)}
    for k, rule in enumerate(rules):
        code = f"{rule.pack}/{rule.id}"
        turned = PATTERN[k % len(PATTERN) :] + PATTERN[: k % len(PATTERN)]
        row = bytearray((turned * (BIG_TARGETS // len(PATTERN) + 1))[:BIG_TARGETS])
        for n in range(0, BIG_TARGETS, UNREADABLE_EVERY):
            row[n] = RuleOutcome.UNKNOWN
        result.outcomes[code] = row
        result.findings.extend(
            AuditFinding(
                FindingKind.POLICY, FindingStatus.FAIL, targets[n], "settings", "in_meeting.chat",
                f"{code} fails for <{targets[n].label}>", Where(f"users/{n}.yaml", 3), rule=rule,
                actual=False, expected=True,
            )
            for n, byte in enumerate(row)
            if byte == RuleOutcome.FAIL and n % 2 == 0
        )  # fmt: skip
    return result


@pytest.mark.slow
def test_a_big_audit_is_streamed_in_bounded_memory() -> None:
    """400,000 cases: the render's traced peak stays small (building the whole tree took ~170 MB),
    the stream is the same text a StringIO gets, and junitparser reads the right totals."""
    result = big_result()
    sink = CountingSink()
    gc.collect()
    tracemalloc.start()
    try:
        audit_junit.render(result, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MiB"

    text = rendered(result)
    assert sink.chars == len(text)

    expected = dict.fromkeys(["tests", "failures", "errors", "skipped"], 0)
    for code in result.outcomes:
        counts = result.rule_counts(code)
        expected["tests"] += sum(counts.values())
        expected["failures"] += counts["fail"]
        expected["errors"] += counts["unknown"]
        expected["skipped"] += counts["not_applicable"] + counts["acknowledged"]
    unreadable = BIG_TARGETS // UNREADABLE_EVERY
    expected["tests"] += len(result.drift_judged) + unreadable
    expected["failures"] += sum(count > 0 for count in result.drift_judged.values())
    expected["errors"] += unreadable
    xml = JUnitXml.fromstring(text)
    assert isinstance(xml, JUnitXml)
    totals = {key: getattr(xml, key) for key in expected}
    assert totals == expected
    assert expected["tests"] > BIG_TARGETS * BIG_RULES * 0.9
    listed = list(xml)
    assert len(listed) == BIG_RULES + 2
    for key in expected:
        assert sum(getattr(suite, key) for suite in listed) == expected[key]
    # Every case and result is its own element (a name cannot hold a `<`: it is escaped).
    assert text.count("<testcase ") == expected["tests"]
    assert text.count("<failure ") == expected["failures"]
    assert text.count("<error ") == expected["errors"]
    assert text.count("<skipped ") == expected["skipped"]
