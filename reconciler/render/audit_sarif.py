"""The audit as SARIF 2.1.0, the format GitHub code scanning reads: one run, one rule descriptor
per policy rule (plus one for drift and one for unreadable targets), one result per finding.

Acknowledged findings stay in the report as results with an accepted external suppression, so
code scanning shows them as dismissed rather than losing them; `partialFingerprints` carries the
finding's fingerprint, so an alert keeps its identity across runs while its value changes.
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO
from urllib.parse import quote

from reconciler.audit.model import AuditFinding, AuditResult, FindingKind, FindingStatus
from reconciler.diff import MISSING
from reconciler.escape import printable, quoted
from reconciler.policy import Rule
from reconciler.render.markdown import code, escape

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/zoom-reconciler/reconciler"
FINGERPRINT_KEY = "reconcilerFinding/v1"

REPO_BASE = "REPO"
PACKS_BASE = "RECONCILER_PACKS"
# Where a finding no file explains (a target that could not be read) is shown.
UNLOCATED_FILE = "reconciler.yaml"

DRIFT_RULE_ID = "reconciler/drift"
UNREADABLE_RULE_ID = "reconciler/unreadable"

LEVEL_BY_SEVERITY = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub's security-severity scale (0.0-10.0): >= 9 critical, >= 7 high, >= 4 medium, else low.
SECURITY_SEVERITY = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0"}

# RFC 3986 path characters kept as written; everything else is percent-encoded.
_URI_SAFE = "/@!$&'()*+,;="
_NOT_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9]+")
# A reference shown as a CommonMark autolink, where nothing is read as Markdown or HTML.
_AUTOLINK_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")

_DRIFT_DESCRIPTION = (
    "A field the settings repository manages has a different value in Zoom than the repository "
    "asks for: it was changed outside the repository, or a change was never applied."
)
_DRIFT_HELP = (
    "Run `reconciler plan` to see the change that restores the repository's value and "
    "`reconciler apply` to make it, or change the repository to the value Zoom has if that "
    "value is the one wanted."
)
_UNREADABLE_DESCRIPTION = (
    "The audit could not read this target from Zoom, so no rule could judge it and its state "
    "is unknown."
)
_UNREADABLE_HELP = (
    "Check the cause in the message (a missing scope, a deleted user, Zoom being unavailable) "
    "and run the audit again."
)


def rule_code(rule: Rule) -> str:
    return f"{rule.pack}/{rule.id}"


def finding_rule_id(finding: AuditFinding) -> str:
    if finding.rule is not None:
        return rule_code(finding.rule)
    return UNREADABLE_RULE_ID if finding.kind is FindingKind.READ else DRIFT_RULE_ID


def pascal_case(text: str) -> str:
    """`zsb-waiting-room` -> `ZsbWaitingRoom`: SARIF's `name`, an identifier people can read."""
    return "".join(word[:1].upper() + word[1:] for word in _NOT_NAME_CHARACTER.split(text))


def remedy_lines(remedy: dict[str, Any] | None) -> list[str]:
    """The remedy as `dotted.path: value` lines (`locks.` first for locks), leaves only."""
    lines: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            lines.append(f"{prefix}: {json.dumps(value, ensure_ascii=False, default=str)}")

    walk("", remedy or {})
    return lines


def _message(text: str) -> dict[str, str]:
    return {"text": text}


def _reference_markdown(reference: str) -> str:
    """A URL as an autolink (its text is never Markdown), anything else escaped."""
    if _AUTOLINK_URL.fullmatch(reference):
        return f"<{reference}>"
    return escape(reference)


def help_markdown(rule: Rule) -> str:
    """`help.markdown`: the pack's text (repo input) escaped, so no HTML or comment reaches
    code scanning's page as written."""
    parts = [escape(rule.rationale)]
    if rule.references:
        parts.append(
            "**References**\n\n"
            + "\n".join(f"- {_reference_markdown(ref)}" for ref in rule.references)
        )
    remedy = remedy_lines(rule.remedy)
    if remedy:
        parts.append(
            "**To comply**, set in the target's settings file:\n\n"
            + "\n".join(f"- {code(line)}" for line in remedy)
        )
    levels = ", ".join(rule.levels)
    parts.append(f"Defined in {code(rule.file)} line {rule.line}; levels: {escape(levels)}.")
    return "\n\n".join(parts)


def _policy_descriptor(rule: Rule) -> dict[str, Any]:
    severity = str(rule.severity)
    remedy = remedy_lines(rule.remedy)
    text = [rule.rationale]
    if rule.references:
        text.append("References: " + "; ".join(rule.references))
    if remedy:
        text.append("To comply, set: " + "; ".join(remedy))
    text.append(f"Defined in {rule.file}:{rule.line}, levels: {', '.join(rule.levels)}.")
    return {
        "id": rule_code(rule),
        "name": pascal_case(rule.id),
        "shortDescription": _message(rule.title),
        "fullDescription": _message(rule.rationale),
        "help": {"text": "\n\n".join(text), "markdown": help_markdown(rule)},
        "defaultConfiguration": {"level": LEVEL_BY_SEVERITY[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity,
            "tags": ["security", rule.pack],
            "precision": "high",
            "levels": list(rule.levels),
            "references": list(rule.references),
        },
    }


def _builtin_descriptor(
    rule_id: str, name: str, title: str, description: str, help_text: str, severity: str
) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": _message(title),
        "fullDescription": _message(description),
        "help": {
            "text": f"{description}\n\n{help_text}",
            "markdown": f"{description}\n\n{help_text}",
        },
        "defaultConfiguration": {"level": LEVEL_BY_SEVERITY[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity,
            "tags": ["security", "reconciler"],
            "precision": "high",
        },
    }


def rule_descriptors(result: AuditResult) -> list[dict[str, Any]]:
    """The policy rules in result order (then any rule only a finding names), drift, unreadable."""
    rules = list(result.rules)
    known = {rule_code(rule) for rule in rules}
    for finding in result.findings:
        if finding.rule is not None and rule_code(finding.rule) not in known:
            known.add(rule_code(finding.rule))
            rules.append(finding.rule)
    return [
        *(_policy_descriptor(rule) for rule in rules),
        _builtin_descriptor(
            DRIFT_RULE_ID, "ManagedFieldDrift", "A managed field drifted from the repository",
            _DRIFT_DESCRIPTION, _DRIFT_HELP, "medium",
        ),
        _builtin_descriptor(
            UNREADABLE_RULE_ID, "UnreadableTarget", "A target could not be read from Zoom",
            _UNREADABLE_DESCRIPTION, _UNREADABLE_HELP, "high",
        ),
    ]  # fmt: skip


def finding_text(finding: AuditFinding) -> str:
    """One line: the target, the field, what was found, actual vs expected, the lock above."""
    parts = [printable(finding.target.label)]
    if finding.family is not None:
        parts.append(printable(finding.field_label))
    line = ": ".join([*parts, printable(finding.message)])
    details = []
    if finding.actual is not MISSING:
        details.append(f"actual {quoted(finding.actual)}")
    if finding.expected is not MISSING:
        details.append(f"expected {quoted(finding.expected)}")
    if finding.locked_by is not None:
        details.append(f"locked by {printable(finding.locked_by)}")
    if finding.inferred_from is not None:
        details.append(f"inferred from {printable(finding.inferred_from)}, not read")
    if details:
        line += f" ({', '.join(details)})"
    if finding.acknowledged is not None:
        ack = finding.acknowledged
        line += f"; acknowledged by {printable(ack.owner)} until {printable(ack.expires)}"
    if finding.where is None:
        line += f"; no file sets this, so it is shown at {UNLOCATED_FILE}"
    return line


def _location(finding: AuditFinding) -> dict[str, Any]:
    where = finding.where
    if where is None:
        file, line, column, base = UNLOCATED_FILE, 1, 1, REPO_BASE
    else:
        file, line, column = where.file, where.line, where.col
        base = REPO_BASE if where.in_repo else PACKS_BASE
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(file, safe=_URI_SAFE), "uriBaseId": base},
            "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
        }
    }


def _properties(finding: AuditFinding) -> dict[str, Any]:
    found: dict[str, Any] = {
        "target": finding.target.label,
        "target_id": finding.target.ref.id,
        "level": finding.level,
        "status": finding.status.value,
        "kind": finding.kind.value,
        "severity": finding.severity,
        "field": None if finding.family is None else finding.field_label,
    }
    if finding.actual is not MISSING:
        found["actual"] = finding.actual
    if finding.expected is not MISSING:
        found["expected"] = finding.expected
    if finding.locked_by is not None:
        found["locked_by"] = finding.locked_by
    if finding.inferred_from is not None:
        found["inferred_from"] = finding.inferred_from
    if finding.where is not None:
        found["sets_value"] = finding.where.sets_value
    if finding.kind is FindingKind.READ and finding.target.unknown is not None:
        found["cause"] = finding.target.unknown
    return found


def sarif_result(finding: AuditFinding, rule_index: dict[str, int]) -> dict[str, Any]:
    rule_id = finding_rule_id(finding)
    found: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index[rule_id],
        "level": LEVEL_BY_SEVERITY[finding.severity],
        "message": _message(finding_text(finding)),
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": _properties(finding),
    }
    ack = finding.acknowledged
    if finding.status is FindingStatus.ACKNOWLEDGED and ack is not None:
        found["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": (
                    f"{ack.reason} (owner {ack.owner}, until {ack.expires}, {ack.where})"
                ),
            }
        ]
    return found


def audit_sarif(result: AuditResult) -> dict[str, Any]:
    descriptors = rule_descriptors(result)
    rule_index = {descriptor["id"]: index for index, descriptor in enumerate(descriptors)}
    run_properties: dict[str, Any] = {
        "account_id": result.account_id,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "repo_path": result.repo_path,
        "repo_commit": result.repo_commit,
        "targets": len(result.targets),
        "clean": result.clean,
        "by_result": result.counts_by_result(),
        "reads_inferred": result.reads_inferred,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reconciler",
                        "version": result.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {
                    REPO_BASE: {"description": _message("The settings repository.")},
                    PACKS_BASE: {
                        "description": _message(
                            "The reconciler tool's own files: the policy packs it ships are "
                            "under policies/."
                        )
                    },
                },
                "columnKind": "unicodeCodePoints",
                "results": [sarif_result(finding, rule_index) for finding in result.findings],
                "properties": run_properties,
            }
        ],
    }


def render(result: AuditResult, fh: TextIO) -> None:
    json.dump(audit_sarif(result), fh, indent=2, ensure_ascii=False)
    fh.write("\n")
