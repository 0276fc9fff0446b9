"""The audit as JUnit XML, for CI systems that show test reports: each rule is a test suite and
each target it judged a test case, so a CI page lists what passed as well as what failed.

A failed rule is a `<failure>`, one that could not be judged an `<error>`, a rule that does not
apply or an acknowledged failure `<skipped>`. Two more suites: `reconciler/drift` (a case per
managed target drift judged, failing with every drifted field) and `reconciler/unreadable` (an
error per target that could not be read). Hidden characters are shown escaped, as everywhere.

The XML is streamed, a suite at a time and a case at a time: a suite's counts are attributes of
its start tag, so they come first from its outcome bytes (and the totals of `<testsuites>` from
every suite's counts), then its cases are written. Memory is bounded by the findings' index and
each target's name (escaped once, not once per rule), not by the number of cases (133 rules
over 50,000 users make 6.6 million); a failed rule's finding is made from the store's columns
when its case is written, and let go. Every attribute and text goes through
`xml.sax.saxutils.escape`, with the entities ElementTree writes, so names from Zoom (an email
with markup or quotes) are escaped and the output is the one `ET.indent` and
`ElementTree.write` gave for the same elements.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO
from xml.sax.saxutils import escape

from reconciler.audit.model import (
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    RuleOutcome,
    light,
)
from reconciler.diff import MISSING
from reconciler.escape import printable
from reconciler.policy import Rule
from reconciler.render.scorecard import junit_manual_suite

SUITES_NAME = "reconciler audit"
DRIFT_SUITE = "reconciler/drift"
UNREADABLE_SUITE = "reconciler/unreadable"
COUNTED = ("tests", "failures", "errors", "skipped")

# What XML 1.0 cannot hold even escaped, left after `printable` (lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
# An attribute value's entities besides `&`, `<` and `>`, spelled as ElementTree spells them.
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}
_INDENT = "  "
_PIECES = 4096  # pieces (two to four a case) gathered before each write to the sink

TargetKey = tuple[str, str]


def xml_text(text: str) -> str:
    """`text` as XML may carry it: hidden characters escaped (no line breaks), all else kept."""
    if text.isprintable():
        # No control, format or separator character but the space, no surrogate, no U+FFFE or
        # U+FFFF (unassigned): nothing to escape, found without looking at each character.
        return text
    return _NOT_XML.sub(lambda found: f"\\u{ord(found.group()):04x}", printable(text))


def value_text(value: Any) -> str:
    return xml_text(json.dumps(value, ensure_ascii=False, default=str))


def target_key(target: AuditTarget) -> TargetKey:
    return (target.ref.kind, target.ref.id)


def finding_lines(finding: AuditFinding) -> list[str]:
    """What a failure's body says of one finding, a line each."""
    lines = [xml_text(finding.message), f"target: {xml_text(finding.target.label)}"]
    if finding.family is not None:
        lines.append(f"field: {xml_text(finding.field_label)}")
    if finding.actual is not MISSING:
        lines.append(f"actual: {value_text(finding.actual)}")
    if finding.expected is not MISSING:
        lines.append(f"expected: {value_text(finding.expected)}")
    if finding.locked_by is not None:
        lines.append(f"locked by: {xml_text(finding.locked_by)}")
    if finding.inferred_from is not None:
        lines.append(f"inferred from: {xml_text(finding.inferred_from)} (not read)")
    if finding.where is not None:
        where = finding.where
        place = "repo" if where.in_repo else "shipped pack"
        lines.append(f"source: {xml_text(str(where))}:{where.col} ({place})")
    if finding.acknowledged is not None:
        lines.append(f"acknowledged: {acknowledged_text(finding)}")
    return lines


def acknowledged_text(finding: AuditFinding | None) -> str:
    ack = None if finding is None else finding.acknowledged
    if ack is None:
        return "acknowledged"
    return xml_text(f"acknowledged by {ack.owner} until {ack.expires}: {ack.reason} ({ack.where})")


# -- writing ------------------------------------------------------------------------------------


def attribute(value: str) -> str:
    """`value` escaped for a double-quoted attribute."""
    return escape(value, _ATTRIBUTE_ENTITIES)


def _attributes(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f' {name}="{attribute(value)}"' for name, value in pairs)


def _counted(counts: dict[str, int]) -> str:
    return "".join(f' {key}="{counts[key]}"' for key in COUNTED)


class _Out:
    """Gathers the many small pieces into chunks, so the sink is not called once per tag."""

    def __init__(self, fh: TextIO) -> None:
        self._fh = fh
        self.parts: list[str] = []

    def __call__(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        if self.parts:
            self._fh.write("".join(self.parts))
            self.parts.clear()


@dataclass(frozen=True, slots=True)
class _Result:
    """A case's one child: `<failure>` or `<error>` (with a type and a body), or `<skipped>`."""

    tag: str
    message: str
    kind: str | None = None
    body: str = ""

    def xml(self, level: int) -> str:
        pairs = [("message", self.message)]
        if self.kind is not None:
            pairs.append(("type", self.kind))
        start = f"{_INDENT * level}<{self.tag}{_attributes(pairs)}"
        if not self.body:
            return f"{start} />\n"
        return f"{start}>{escape(self.body)}</{self.tag}>\n"


# One case: the index of its target, and its result (None when it passed).
_Case = tuple[int, _Result | None]


@dataclass(frozen=True, slots=True)
class _Suite:
    """One `<testsuite>`: its counts, known before its cases are made, and how to make them."""

    name: str
    classname: str
    counts: dict[str, int]
    cases: Callable[[], Iterator[_Case]]
    properties: tuple[tuple[str, str], ...] = ()

    def write(self, out: _Out, names: _Names) -> None:
        """Stream the suite to `out`, flushing it every so many cases."""
        head = f'{_INDENT}<testsuite name="{attribute(self.name)}"{_counted(self.counts)}'
        if not self.properties and not self.counts["tests"]:
            out(f"{head} />\n")
            return
        out(f"{head}>\n")
        if self.properties:
            out(f"{_INDENT * 2}<properties>\n")
            for name, value in self.properties:
                pairs = _attributes([("name", name), ("value", value)])
                out(f"{_INDENT * 3}<property{pairs} />\n")
            out(f"{_INDENT * 2}</properties>\n")
        opening = f'{_INDENT * 2}<testcase classname="{attribute(self.classname)}" name="'
        closing = f"{_INDENT * 2}</testcase>\n"
        parts, escaped = out.parts, names.escaped
        append = parts.append
        for at, found in self.cases():
            append(opening)
            append(escaped[at])
            if found is None:
                append('" />\n')
            else:
                append('">\n')
                append(found.xml(3))
                append(closing)
            if len(parts) >= _PIECES:
                out.flush()
        out(f"{_INDENT}</testsuite>\n")


@dataclass(frozen=True, slots=True)
class _Names:
    """Each target's label escaped for an attribute: made once, not once per rule (one string
    a target, not three: they add up in a big account)."""

    escaped: list[str]

    @classmethod
    def of(cls, targets: list[AuditTarget]) -> _Names:
        return cls([attribute(xml_text(target.label)) for target in targets])


def _counts(tests: int, failures: int, errors: int, skipped: int) -> dict[str, int]:
    return dict(zip(COUNTED, (tests, failures, errors, skipped), strict=True))


# -- the suites ---------------------------------------------------------------------------------


class _RuleFindings:
    """One rule's findings as (target index, finding position) pairs in target order: 8 bytes
    each, where the findings themselves (made from the store's columns) cost ~500."""

    def __init__(self) -> None:
        self.targets = array("i")
        self.positions = array("i")

    def add(self, target: int, position: int) -> None:
        self.targets.append(target)
        self.positions.append(position)

    def in_target_order(self) -> None:
        """Sort the pairs by target (stable: the first finding of a target stays first); an
        audit's findings come in target order already, a hand-made result's may not."""
        targets = self.targets
        if all(targets[at] <= targets[at + 1] for at in range(len(targets) - 1)):
            return
        order = sorted(range(len(targets)), key=targets.__getitem__)
        self.targets = array("i", (targets[at] for at in order))
        self.positions = array("i", (self.positions[at] for at in order))


@dataclass(frozen=True, slots=True)
class _Index:
    """The findings indexed once by (rule, target) and by target. A rule's failures are kept
    as positions and each made when its case is written."""

    policy: dict[str, _RuleFindings]
    drift: dict[int, list[AuditFinding]]
    reads: dict[int, AuditFinding]

    @classmethod
    def of(cls, result: AuditResult) -> _Index:
        index_of = {target_key(target): index for index, target in enumerate(result.targets)}
        found = cls({}, {}, {})
        findings = result.findings
        for position, item in enumerate(light(findings)):
            index = index_of.get(target_key(item.target))
            if index is None:
                continue
            if item.kind is FindingKind.POLICY and item.rule_code is not None:
                found.policy.setdefault(item.rule_code, _RuleFindings()).add(index, position)
            elif item.kind is FindingKind.DRIFT:
                found.drift.setdefault(index, []).append(findings[position])
            elif item.kind is FindingKind.READ:
                found.reads.setdefault(index, findings[position])
        for rule_findings in found.policy.values():
            rule_findings.in_target_order()
        return found


def _label(result: AuditResult, at: int) -> str:
    return xml_text(result.targets[at].label)


def _body(finding: AuditFinding) -> str:
    return "\n".join(finding_lines(finding))


def _rule_suite(result: AuditResult, rule: Rule, index: _Index) -> _Suite:
    code = rule.code
    outcomes = result.outcomes.get(code, b"")
    counts = _counts(
        len(outcomes) - outcomes.count(RuleOutcome.NOT_JUDGED),
        outcomes.count(RuleOutcome.FAIL),
        outcomes.count(RuleOutcome.UNKNOWN),
        outcomes.count(RuleOutcome.NOT_APPLICABLE) + outcomes.count(RuleOutcome.ACKNOWLEDGED),
    )
    rule_findings = index.policy.get(code, _RuleFindings())

    def cases() -> Iterator[_Case]:
        """Outcomes and the rule's findings, both in target order, walked side by side."""
        targets, positions = rule_findings.targets, rule_findings.positions
        ahead = 0  # the first pair whose target is not behind `at`
        for at, byte in enumerate(outcomes):
            if byte == RuleOutcome.PASS:
                yield at, None
                continue
            if byte == RuleOutcome.NOT_JUDGED:
                continue
            while ahead < len(targets) and targets[ahead] < at:
                ahead += 1
            here = ahead < len(targets) and targets[ahead] == at
            finding = result.findings[positions[ahead]] if here else None
            yield at, _rule_result(code, byte, finding, at, result, index)

    properties = [
        ("severity", str(rule.severity)),
        ("levels", ", ".join(rule.levels)),
        ("source", f"{rule.file}:{rule.line}"),
        *(("reference", reference) for reference in rule.references),
    ]
    return _Suite(
        xml_text(f"{code}: {rule.title}"),
        xml_text(code),
        counts,
        cases,
        tuple((name, xml_text(value)) for name, value in properties),
    )


def _rule_result(
    code: str,
    byte: int,
    finding: AuditFinding | None,
    at: int,
    result: AuditResult,
    index: _Index,
) -> _Result | None:
    if byte == RuleOutcome.FAIL:
        if finding is None:
            return _Result("failure", f"{code} fails", "fail", f"target: {_label(result, at)}")
        return _Result("failure", xml_text(finding.message), "fail", _body(finding))
    if byte == RuleOutcome.UNKNOWN:
        cause = _unknown_cause(finding, result.targets[at])
        return _Result("error", cause, "unknown", _body(finding) if finding is not None else cause)
    if byte == RuleOutcome.NOT_APPLICABLE:
        return _Result("skipped", "not applicable")
    if byte == RuleOutcome.ACKNOWLEDGED:
        return _Result("skipped", acknowledged_text(finding))
    return None  # a byte no outcome has: a case without a result, as a pass


def _unknown_cause(finding: AuditFinding | None, target: AuditTarget) -> str:
    if finding is not None:
        return xml_text(finding.message)
    if target.unknown is not None:
        return xml_text(f"the read failed: {target.unknown}")
    return "the rule could not be evaluated"


def _drift_suite(result: AuditResult, index: _Index) -> _Suite:
    judged = sorted(set(result.drift_judged) | set(index.drift))

    def outcome(at: int) -> str | None:
        """`failure`, `skipped` or None (no drift), for the counts and the case alike."""
        found = index.drift.get(at, [])
        if any(finding.failing for finding in found):
            return "failure"
        if found:
            return "skipped"
        return "failure" if result.drift_judged.get(at, 0) > 0 else None

    outcomes = [outcome(at) for at in judged]
    counts = _counts(len(judged), outcomes.count("failure"), 0, outcomes.count("skipped"))

    def cases() -> Iterator[_Case]:
        for at in judged:
            yield at, _drift_result(result, index, at)

    # The run's count of reads inferred from locks (`AuditResult.inferred_note`), said once.
    inferred = (("reads_inferred", str(result.reads_inferred)),) if result.reads_inferred else ()
    return _Suite(xml_text(DRIFT_SUITE), DRIFT_SUITE, counts, cases, inferred)


def _drift_result(result: AuditResult, index: _Index, at: int) -> _Result | None:
    found = index.drift.get(at, [])
    drifted = [finding for finding in found if finding.failing]
    if drifted:
        body = "\n\n".join(_body(finding) for finding in found)
        fields = ", ".join(xml_text(finding.field_label) for finding in drifted)
        return _Result("failure", f"{len(drifted)} managed field(s) drift: {fields}", "drift", body)
    if found:
        return _Result("skipped", "; ".join(acknowledged_text(finding) for finding in found))
    count = result.drift_judged.get(at, 0)
    if count > 0:
        return _Result("failure", f"{count} managed field(s) drift", "drift", _label(result, at))
    return None


def _unreadable_suite(result: AuditResult, index: _Index) -> _Suite:
    unreadable = sum(target.unknown is not None for target in result.targets)

    def cases() -> Iterator[_Case]:
        for at, target in enumerate(result.targets):
            if target.unknown is None:
                continue
            finding = index.reads.get(at)
            cause = xml_text(target.unknown)
            body = _body(finding) if finding is not None else cause
            yield at, _Result("error", cause, "unreadable", body)

    counts = _counts(unreadable, 0, unreadable, 0)
    return _Suite(xml_text(UNREADABLE_SUITE), UNREADABLE_SUITE, counts, cases)


def _suites(result: AuditResult) -> tuple[_Names, list[_Suite]]:
    """Every suite with its counts (its cases not yet made), and the targets' escaped names."""
    index = _Index.of(result)
    suites = [_rule_suite(result, rule, index) for rule in result.rules]
    suites += [_drift_suite(result, index), _unreadable_suite(result, index)]
    return _Names.of(result.targets), suites


def render(result: AuditResult, fh: TextIO) -> None:
    names, suites = _suites(result)
    manual = junit_manual_suite(result, attribute, xml_text)
    totals = {key: sum(s.counts[key] for s in suites) + manual.counts[key] for key in COUNTED}
    out = _Out(fh)
    # What `ElementTree.write(fh, encoding="unicode", xml_declaration=True)` declares.
    declared = getattr(fh, "encoding", None) or "utf-8"
    out(f"<?xml version='1.0' encoding='{declared}'?>\n")
    out(f'<testsuites name="{attribute(SUITES_NAME)}"{_counted(totals)}>\n')
    out(manual.xml)
    for suite in suites:
        suite.write(out, names)
    out("</testsuites>\n")
    out.flush()
