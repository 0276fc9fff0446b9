"""The audit as SARIF 2.1.0, the format GitHub code scanning reads: one run, one rule descriptor
per policy rule (plus one for drift and one for unreadable targets), one result per roll-up
(`reconciler.audit.rollup`): a layer's failure with the users who inherit it is one result with
the count and a sample; a finding of its own target is one result as it was.

GitHub takes at most 25,000 results and 10 MB gzipped per upload, so the run stays within
`SarifLimits` whatever the account's size: when the roll-ups per layer are still too many or too
big, they are rolled up further (per rule and level, then per rule), and the run's
`properties.rollup` says how far and why. Every location is a file of the settings repo: the
line that sets the value where the repo sets it, else the `reconciler.yaml` line that enables
the rule's pack (a repo pack's own rule line is in the repo too); never a file of the tool.

Acknowledged findings stay in the report as results with an accepted external suppression, so
code scanning shows them as dismissed rather than losing them; `partialFingerprints` carries the
finding's (or roll-up's) fingerprint, so an alert keeps its identity across runs while its value
changes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

from reconciler.audit.model import (
    Acknowledgement,
    AuditFinding,
    AuditResult,
    FindingKind,
    FindingStatus,
    PackInfo,
    Where,
)
from reconciler.audit.rollup import Depth, RollUp, RollUps, count_roll_ups, roll_up
from reconciler.diff import MISSING
from reconciler.escape import printable, quoted
from reconciler.policy import Rule
from reconciler.render.markdown import code, escape
from reconciler.render.scorecard import scorecard_sarif

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/zoom-reconciler/reconciler"
FINGERPRINT_KEY = "reconcilerFinding/v1"

REPO_BASE = "REPO"
# Where a finding no repo file explains (a target that could not be read, a shipped pack's rule
# that no reconciler.yaml line enables) is shown.
UNLOCATED_FILE = "reconciler.yaml"
MAX_RESULTS = 25_000  # GitHub code scanning's limits per upload
MAX_GZIP_BYTES = 10_000_000
SAMPLE_TARGETS = 10

_DEPTH_TEXT = {
    Depth.LAYER: "per layer (a layer's failure with the users who inherit it)",
    Depth.GROUP: "per rule and group (the other users' findings)",
    Depth.LEVEL: "per rule and level",
    Depth.RULE: "per rule",
}

_VERB = {
    FindingStatus.FAIL: "fails",
    FindingStatus.ACKNOWLEDGED: "fails, acknowledged",
    FindingStatus.UNKNOWN: "could not be judged",
    FindingStatus.DRIFT: "drifts",
}


@dataclass(frozen=True)
class SarifLimits:
    """What the sink takes: GitHub code scanning's limits unless a caller says otherwise."""

    max_results: int = MAX_RESULTS
    max_gzip_bytes: int = MAX_GZIP_BYTES
    sample_size: int = SAMPLE_TARGETS


@dataclass(frozen=True)
class SarifChoice:
    """How far the findings were rolled up, and why further than per layer (None: not)."""

    depth: Depth
    results: int
    gzip_bytes: int
    reason: str | None = None
    within_limits: bool = True

    @property
    def note(self) -> str | None:
        if self.reason is None:
            return None
        return (
            f"SARIF rolled up {_DEPTH_TEXT[self.depth]}: {self.reason}; "
            "the JSON report has every finding"
        )


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
    return rule.code


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


def _place(finding: AuditFinding, packs: dict[str, PackInfo]) -> tuple[Where, str | None]:
    """The repo file and line a finding is shown at, and why there when no line of it sets the
    value (None when one does, or a repo pack's rule line explains it)."""
    where = finding.where
    if where is not None and where.in_repo:
        return where, None
    rule = finding.rule
    pack = packs.get(rule.pack) if rule is not None else None
    if pack is not None and pack.enabled_at is not None:
        enabled = pack.enabled_at
        return (
            enabled,
            f"no repo file sets this, so it is shown at {enabled}, which enables the pack",
        )
    return Where(UNLOCATED_FILE, 1), f"no file sets this, so it is shown at {UNLOCATED_FILE}"


def _place_note(why: str | None) -> str:
    return f"; {why}" if why is not None else ""


def _details(finding: AuditFinding) -> str:
    details = []
    if finding.actual is not MISSING:
        details.append(f"actual {quoted(finding.actual)}")
    if finding.expected is not MISSING:
        details.append(f"expected {quoted(finding.expected)}")
    if finding.locked_by is not None:
        details.append(f"locked by {printable(finding.locked_by)}")
    if finding.inferred_from is not None:
        details.append(f"inferred from {printable(finding.inferred_from)}, not read")
    return f" ({', '.join(details)})" if details else ""


def _acknowledged_text(acks: tuple[Acknowledgement, ...]) -> str:
    if len(acks) == 1:
        ack = acks[0]
        return f"; acknowledged by {printable(ack.owner)} until {printable(ack.expires)}"
    return f"; acknowledged by {len(acks)} entries of acknowledged.yaml" if acks else ""


def finding_text(finding: AuditFinding, place: tuple[Where, str | None] | None = None) -> str:
    """One line: the target, the field, what was found, actual vs expected, the lock above."""
    parts = [printable(finding.target.label)]
    if finding.family is not None:
        parts.append(printable(finding.field_label))
    line = ": ".join([*parts, printable(finding.message)]) + _details(finding)
    if finding.acknowledged is not None:
        line += _acknowledged_text((finding.acknowledged,))
    if place is None:
        place = _place(finding, {})
    return line + _place_note(place[1])


def sample_name(finding: AuditFinding) -> str:
    """A sampled target, short: a user's email, a group's name, `account`."""
    ref = finding.target.ref
    return printable(ref.email or ref.name or finding.target.label)


def _who(rollup: RollUp) -> str:
    """Whom a roll-up stands for: `group Sales and 212 of its users`, `1,790 users`."""
    layer = rollup.layer
    if layer is not None:
        users = rollup.inherited
        own = rollup.first.target.ref == layer.ref
        noun = "user" if users == 1 else "users"
        whose = "of its" if layer.ref.kind == "group" else "with no group"
        if layer.ref.kind == "group":
            return f"{printable(layer.label)}{' and' if own else ':'} {users:,} {whose} {noun}"
        return f"{printable(layer.label)}{' and' if own else ':'} {users:,} {noun} {whose}"
    if rollup.scope == "group":
        groups = rollup.first.target.groups
        whose = f"of group {printable(groups[0])}" if groups else "with no group"
        return f"{rollup.count:,} users {whose}"
    if len(rollup.by_level) == 1:
        return f"{rollup.count:,} findings at the {rollup.first.level} level"
    counts = ", ".join(f"{level} {n:,}" for level, n in sorted(rollup.by_level.items()))
    return f"{rollup.count:,} findings ({counts})"


def rollup_text(rollup: RollUp, place: tuple[Where, str | None]) -> str:
    """A roll-up's line: whom, the field, the rule's message, the value where it is one, and a
    sample of the targets."""
    first = rollup.first
    if rollup.single:
        return finding_text(first, place)
    parts = [_who(rollup)]
    if first.family is not None:
        parts.append(printable(first.field_label))
    if first.rule is not None:
        verb = _VERB[first.status]
        parts.append(printable(f"{first.rule.id} ({first.rule.title}) {verb}"))
    else:
        parts.append(first.kind.value if first.kind is FindingKind.DRIFT else "unreadable")
    line = ": ".join(parts)
    if rollup.scope == "layer":
        line += _details(first)
    layer = rollup.layer.ref if rollup.layer is not None else None
    members = [finding for finding in rollup.sample if finding.target.ref != layer]
    named = rollup.inherited if layer is not None else rollup.count
    more = named - len(members)
    line += f"; {'e.g. ' if more else ''}{', '.join(sample_name(f) for f in members)}"
    if more:
        line += f" and {more:,} more (the JSON report lists every one)"
    line += _acknowledged_text(rollup.acknowledgements)
    return line + _place_note(place[1])


def _location(where: Where) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {
                "uri": quote(where.file, safe=_URI_SAFE),
                "uriBaseId": REPO_BASE,
            },
            "region": {"startLine": max(where.line, 1), "startColumn": max(where.col, 1)},
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


def _rollup_properties(rollup: RollUp) -> dict[str, Any]:
    first = rollup.first
    if rollup.single:
        return {"scope": "target", **_properties(first)}
    found: dict[str, Any] = {
        "scope": rollup.scope,
        "count": rollup.count,
        "by_level": dict(sorted(rollup.by_level.items())),
        "sample": [finding.target.label for finding in rollup.sample],
        "status": first.status.value,
        "kind": first.kind.value,
        "severity": first.severity,
        "field": None if first.family is None else first.field_label,
    }
    if rollup.inferred:  # how many of its findings were judged on a lock holder's values
        found["inferred"] = dict(rollup.inferred)
    if rollup.scope == "group":
        found["group"] = first.target.groups[0] if first.target.groups else None
    if rollup.layer is not None:
        found["layer"] = rollup.layer.label
        found["inherited"] = rollup.inherited
        if first.actual is not MISSING:
            found["actual"] = first.actual
    if first.expected is not MISSING:
        found["expected"] = first.expected
    return found


def _suppression(acks: tuple[Acknowledgement, ...]) -> dict[str, str]:
    if len(acks) == 1:
        ack = acks[0]
        why = f"{ack.reason} (owner {ack.owner}, until {ack.expires}, {ack.where})"
    else:
        why = "accepted by " + "; ".join(
            f"{ack.owner} until {ack.expires} ({ack.where})" for ack in acks
        )
    return {"kind": "external", "status": "accepted", "justification": why}


def sarif_result(
    rollup: RollUp, rule_index: dict[str, int], packs: dict[str, PackInfo]
) -> dict[str, Any]:
    first = rollup.first
    rule_id = finding_rule_id(first)
    place = _place(first, packs)
    coarse = rollup.scope in ("group", "level", "rule") and first.rule is not None
    if coarse and first.where is not None and first.where.sets_value:
        # Its findings are set in many files: shown where the rule is enabled instead.
        place = _place(dataclasses.replace(first, where=None), packs)
    found: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index[rule_id],
        "level": LEVEL_BY_SEVERITY[first.severity],
        "message": _message(rollup_text(rollup, place)),
        "locations": [_location(place[0])],
        "partialFingerprints": {FINGERPRINT_KEY: rollup.fingerprint},
        "properties": _rollup_properties(rollup),
    }
    if first.status is FindingStatus.ACKNOWLEDGED and rollup.acknowledgements:
        found["suppressions"] = [_suppression(rollup.acknowledgements)]
    return found


# Stands in for the results in the document's shell, which is dumped whole; the results are
# dumped one at a time in its place (json.dumps spells the marker `"\u0000results\u0000"`).
_RESULTS_MARK = "\x00results\x00"
_RESULTS_TOKEN = json.dumps(_RESULTS_MARK)
_RESULT_INDENT = " " * 8  # a result's depth: document > runs > run > results


def _chunks(
    result: AuditResult, rollups: Sequence[RollUp], choice: dict[str, Any]
) -> Iterator[str]:
    """The SARIF text, as `json.dumps(document, indent=2)` spells it, a result at a time: the
    whole document (tens of MB of dicts for a big account) is never held."""
    shell = _document(result, choice)
    head, tail = _text(shell).split(_RESULTS_TOKEN)
    descriptors = shell["runs"][0]["tool"]["driver"]["rules"]
    rule_index = {descriptor["id"]: index for index, descriptor in enumerate(descriptors)}
    packs = {pack.name: pack for pack in result.packs}
    yield head + "["
    for index, rollup in enumerate(rollups):
        text = json.dumps(sarif_result(rollup, rule_index, packs), indent=2, ensure_ascii=False)
        yield (
            ("\n" if not index else ",\n")
            + _RESULT_INDENT
            + text.replace("\n", "\n" + _RESULT_INDENT)
        )
    yield ("\n" + _RESULT_INDENT[:-2] + "]" if rollups else "]") + tail


def _gzip_size(chunks: Iterator[str]) -> int:
    """The gzipped size of the text, compressed as it comes (level 6, as the bundle writes)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    size = 0
    for chunk in chunks:
        size += len(packer.compress(chunk.encode("utf-8")))
    return size + len(packer.flush())


def _document(result: AuditResult, choice: dict[str, Any]) -> dict[str, Any]:
    descriptors = rule_descriptors(result)
    run_properties: dict[str, Any] = {
        "account_id": result.account_id,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "repo_path": result.repo_path,
        "repo_commit": result.repo_commit,
        "targets": len(result.targets),
        "clean": result.clean,
        "by_result": result.counts_by_result(),
        "findings": len(result.findings),
        "reads_inferred": result.reads_inferred,
        **scorecard_sarif(result),
        "rollup": choice,
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
                },
                "columnKind": "unicodeCodePoints",
                "results": _RESULTS_MARK,
                "properties": run_properties,
            }
        ],
    }


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _choice_properties(depth: Depth, limits: SarifLimits, reason: str | None) -> dict[str, Any]:
    return {
        "depth": depth.label,
        "reason": reason,
        "max_results": limits.max_results,
        "max_gzip_bytes": limits.max_gzip_bytes,
        "sample_size": limits.sample_size,
    }


def choose(
    result: AuditResult, limits: SarifLimits
) -> tuple[Callable[[], Iterator[str]], SarifChoice]:
    """The SARIF text (its chunks, made again on each call) at the least depth that fits
    `limits`, and how far it went: per layer, else per rule and level, else per rule (which is
    bounded by the rules, not the account)."""
    reason: str | None = None
    for depth in Depth:
        last = depth is Depth.RULE
        count = count_roll_ups(result, depth)
        if count > limits.max_results and not last:
            reason = (
                f"{count:,} results {_DEPTH_TEXT[depth]} exceed the {limits.max_results:,} "
                "that code scanning takes per upload"
            )
            continue
        rollups = roll_up(result, depth, limits.sample_size)
        choice = _choice_properties(depth, limits, reason)

        def text(rollups: RollUps = rollups, choice: dict[str, Any] = choice) -> Iterator[str]:
            return _chunks(result, rollups, choice)

        size = _gzip_size(text())
        if size > limits.max_gzip_bytes and not last:
            reason = (
                f"{size:,} bytes gzipped {_DEPTH_TEXT[depth]} exceed the "
                f"{limits.max_gzip_bytes:,} that code scanning takes per upload"
            )
            continue
        within = count <= limits.max_results and size <= limits.max_gzip_bytes
        return text, SarifChoice(depth, len(rollups), size, reason, within)
    raise AssertionError("the last depth always returns")


# What `render` and the audit command hold the report to.
DEFAULT_LIMITS = SarifLimits()
# The CLI asks for the note after the report is written: the same result is not rolled up again.
_last: list[tuple[AuditResult, SarifChoice]] = []


def _chosen(result: AuditResult) -> tuple[Callable[[], Iterator[str]], SarifChoice]:
    text, choice = choose(result, DEFAULT_LIMITS)
    _last[:] = [(result, choice)]
    return text, choice


def roll_up_note(result: AuditResult) -> str | None:
    """The line the audit command prints when its SARIF was rolled up further than per layer."""
    if _last and _last[0][0] is result:
        return _last[0][1].note
    return _chosen(result)[1].note


def audit_sarif(result: AuditResult, limits: SarifLimits | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads("".join(choose(result, limits or DEFAULT_LIMITS)[0]()))
    return document


def render(result: AuditResult, fh: TextIO) -> None:
    for chunk in _chosen(result)[0]():
        fh.write(chunk)
