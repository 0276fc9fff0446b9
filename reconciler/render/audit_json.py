"""The audit as JSON (README "Audit JSON"): versioned by `format_version`, passes counted and
every other result listed. The other formats render the same `AuditResult`; tests compare them
with this one."""

from __future__ import annotations

import json
from typing import Any, TextIO

from reconciler.audit.model import (
    FORMAT_VERSION,
    Acknowledgement,
    AuditFinding,
    AuditResult,
    AuditTarget,
    FieldChange,
)
from reconciler.diff import MISSING
from reconciler.policy.fields import manual_levels


def target_json(target: AuditTarget) -> dict[str, Any]:
    ref = target.ref
    found: dict[str, Any] = {"id": ref.id}
    if ref.kind == "user":
        found["email"] = ref.email
        found["groups"] = list(target.groups)
    elif ref.kind == "group":
        found["name"] = ref.name
    return found


def acknowledgement_json(ack: Acknowledgement) -> dict[str, Any]:
    return {
        "target": ack.target,
        "rule": ack.rule,
        "field": ack.field,
        "owner": ack.owner,
        "reason": ack.reason,
        "expires": ack.expires,
        "expired": ack.expired,
        "source": {"file": ack.file, "line": ack.line},
    }


def finding_json(finding: AuditFinding) -> dict[str, Any]:
    found: dict[str, Any] = {
        "kind": finding.kind.value,
        "rule": finding.rule_code,
        "status": finding.status.value,
        "severity": finding.severity,
        "level": finding.level,
        "target": target_json(finding.target),
        "field": None,
        "message": finding.message,
        "fingerprint": finding.fingerprint,
    }
    if finding.family is not None:
        found["field"] = {
            "family": finding.family,
            "path": finding.path,
            "locks": finding.locks,
        }
    if finding.actual is not MISSING:
        found["actual"] = finding.actual
    if finding.expected is not MISSING:
        found["expected"] = finding.expected
    found["locked_by"] = finding.locked_by
    found["inferred_from"] = finding.inferred_from
    where = finding.where
    found["source"] = (
        None
        if where is None
        else {
            "file": where.file,
            "line": where.line,
            "in_repo": where.in_repo,
            "sets_value": where.sets_value,
        }
    )
    found["acknowledged"] = (
        None
        if finding.acknowledged is None
        else {
            "owner": finding.acknowledged.owner,
            "expires": finding.acknowledged.expires,
            "reason": finding.acknowledged.reason,
            "source": finding.acknowledged.where,
        }
    )
    return found


def _change_json(change: FieldChange) -> dict[str, Any]:
    found: dict[str, Any] = {
        "target": change.target,
        "key": change.key,
        "family": change.family,
        "path": change.path,
    }
    if change.before is not MISSING:
        found["before"] = change.before
    if change.after is not MISSING:
        found["after"] = change.after
    return found


def audit_json(result: AuditResult, *, with_findings: bool = True) -> dict[str, Any]:
    levels = {"account": 0, "group": 0, "user": 0}
    for target in result.targets:
        levels[target.ref.kind] += 1
    document: dict[str, Any] = {
        "kind": "audit",
        "format_version": FORMAT_VERSION,
        "tool_version": result.tool_version,
        "account_id": result.account_id,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "repo": {"path": result.repo_path, "commit": result.repo_commit},
        "summary": {
            "clean": result.clean,
            "targets": len(result.targets),
            "targets_by_level": levels,
            "unknown_targets": len(result.unknown_targets),
            "requests_sent": result.requests_sent,
            "inferred": {
                "read_all": result.read_all,
                "targets": result.inferred_targets,
                "reads_skipped": result.reads_inferred,
            },
            "by_result": result.counts_by_result(),
            "by_level": result.counts_by("level"),
            "by_severity": result.counts_by("severity"),
            "by_group": result.counts_by_group(),
        },
        "packs": [
            {"name": p.name, "title": p.title, "file": p.file, "sha256": p.sha256}
            for p in result.packs
        ],
        "rules": [
            {
                "id": f"{rule.pack}/{rule.id}",
                "title": rule.title,
                "severity": str(rule.severity),
                "levels": list(rule.levels),
                "references": list(rule.references),
                "source": {"file": rule.file, "line": rule.line},
                "counts": result.rule_counts(f"{rule.pack}/{rule.id}"),
                # where `export --remedy` cannot fix it and an admin must (with where)
                "manual_levels": list(manual_levels(rule)),
                "portal": rule.portal,
            }
            for rule in result.rules
        ],
        "findings": [finding_json(f) for f in result.findings] if with_findings else [],
        "unknown_targets": [
            {"level": t.ref.kind, "target": target_json(t), "cause": t.unknown}
            for t in result.unknown_targets
        ],
        "acknowledgements": [acknowledgement_json(a) for a in result.acknowledgements],
        "snapshot": None,
        "since": None,
    }
    if result.snapshot is not None:
        snap = result.snapshot
        document["snapshot"] = {
            "path": snap.path,
            "sha256": snap.sha256,
            "manifest_sha256": snap.manifest_sha256,
            "targets": snap.targets,
        }
    if result.since is not None:
        since = result.since
        document["since"] = {
            "snapshot": since.snapshot,
            "taken_at": since.taken_at,
            "targets_compared": since.targets_compared,
            "targets_changed": since.targets_changed,
            "added": since.added,
            "removed": since.removed,
            "changes": [_change_json(change) for change in since.changes],
        }
    return document


_FINDINGS_MARK = "__reconciler_findings__"


def render(result: AuditResult, fh: TextIO) -> None:
    """The document, with its findings written one at a time: a 50,000-user audit can hold
    millions, and the whole list as dicts would not fit in memory."""
    document = audit_json(result, with_findings=False)
    document["findings"] = _FINDINGS_MARK
    head, tail = json.dumps(document, indent=2, ensure_ascii=False).split(
        json.dumps(_FINDINGS_MARK), 1
    )
    fh.write(head)
    fh.write("[")
    for index, finding in enumerate(result.findings):
        text = json.dumps(finding_json(finding), indent=2, ensure_ascii=False)
        fh.write(("," if index else "") + "\n    " + text.replace("\n", "\n    "))
    fh.write("\n  ]" if len(result.findings) else "]")
    fh.write(tail)
    fh.write("\n")
