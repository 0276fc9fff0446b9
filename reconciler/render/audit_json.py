"""The audit as JSON (README "Audit JSON"): versioned by `format_version`, passes counted and
every other result listed. The other formats render the same `AuditResult`; tests compare them
with this one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from reconciler.audit.changed_by import ChangedBy
from reconciler.audit.model import (
    FORMAT_VERSION,
    Acknowledgement,
    AuditFinding,
    AuditResult,
    AuditTarget,
    FieldChange,
    PackInfo,
    SinceReport,
    SnapshotInfo,
)
from reconciler.diff import MISSING
from reconciler.policy import Rule
from reconciler.policy.fields import manual_levels
from reconciler.render.scorecard import scorecard_json


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


def finding_json(finding: AuditFinding, changed: ChangedBy | None = None) -> dict[str, Any]:
    """One finding; `changed`: who made a drifted value, when `reconciler watch` saw it (its
    keys appear only then, so a report without a watcher is as before)."""
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
    if changed is not None:
        found.update(changed.to_json())
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


class Streamed:
    """A list written an item at a time: an audit of 50,000 users has millions of findings, and
    the whole list as dicts would not fit in memory."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def sections(result: AuditResult) -> Iterator[tuple[str, Any]]:
    """The document's top-level keys in order, each with its value (a `Streamed` for a list too
    big to hold). The one place that says what the document holds."""
    yield "kind", "audit"
    yield "format_version", FORMAT_VERSION
    yield "tool_version", result.tool_version
    yield "account_id", result.account_id
    yield "started_at", result.started_at
    yield "finished_at", result.finished_at
    yield "repo", {"path": result.repo_path, "commit": result.repo_commit}
    yield "summary", _summary(result)
    yield from scorecard_json(result).items()  # `scorecard` and `manual`
    yield "packs", [_pack_json(pack) for pack in result.packs]
    yield "rules", [_rule_json(result, rule) for rule in result.rules]
    yield "findings", Streamed(finding_json(f, result.changed_by(f)) for f in result.findings)
    yield "unknown_targets", Streamed(_unknown_json(t) for t in result.unknown_targets)
    yield "acknowledgements", [acknowledgement_json(a) for a in result.acknowledgements]
    yield "snapshot", _snapshot_json(result.snapshot)
    yield "since", _since_json(result.since)


def _unknown_json(target: AuditTarget) -> dict[str, Any]:
    return {"level": target.ref.kind, "target": target_json(target), "cause": target.unknown}


def _pack_json(pack: PackInfo) -> dict[str, Any]:
    return {"name": pack.name, "title": pack.title, "file": pack.file, "sha256": pack.sha256}


def _summary(result: AuditResult) -> dict[str, Any]:
    levels = {"account": 0, "group": 0, "user": 0}
    for target in result.targets:
        levels[target.ref.kind] += 1
    return {
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
    }


def _rule_json(result: AuditResult, rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "title": rule.title,
        "severity": str(rule.severity),
        "levels": list(rule.levels),
        "references": list(rule.references),
        "source": {"file": rule.file, "line": rule.line},
        "counts": result.rule_counts(rule.code),
        # where `export --remedy` cannot fix it and an admin must (with where)
        "manual_levels": list(manual_levels(rule)),
        "portal": rule.portal,
    }


def _snapshot_json(snap: SnapshotInfo | None) -> dict[str, Any] | None:
    if snap is None:
        return None
    return {
        "path": snap.path,
        "sha256": snap.sha256,
        "manifest_sha256": snap.manifest_sha256,
        "targets": snap.targets,
    }


def _since_json(since: SinceReport | None) -> dict[str, Any] | None:
    if since is None:
        return None
    return {
        "snapshot": since.snapshot,
        "taken_at": since.taken_at,
        "targets_compared": since.targets_compared,
        "targets_changed": since.targets_changed,
        "added": since.added,
        "removed": since.removed,
        "changes": [_change_json(change) for change in since.changes],
    }


def audit_json(result: AuditResult) -> dict[str, Any]:
    """The whole document as one dict (for a small audit; `render` streams it)."""
    return {
        key: list(value.items) if isinstance(value, Streamed) else value
        for key, value in sections(result)
    }


def _dumped(value: Any, indent: str) -> str:
    """`value` as `json.dumps(..., indent=2)` spells it nested `indent` deep."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)


def _write_streamed(items: Iterable[Any], fh: TextIO) -> None:
    fh.write("[")
    empty = True
    for item in items:
        fh.write(("\n    " if empty else ",\n    ") + _dumped(item, "    "))
        empty = False
    fh.write("]" if empty else "\n  ]")


def render(result: AuditResult, fh: TextIO) -> None:
    """The document as `json.dumps(audit_json(result), indent=2)` writes it, a key at a time
    and the long lists an item at a time, so memory does not grow with the findings."""
    fh.write("{")
    for index, (key, value) in enumerate(sections(result)):
        fh.write(("\n  " if not index else ",\n  ") + json.dumps(key) + ": ")
        if isinstance(value, Streamed):
            _write_streamed(value.items, fh)
        else:
            fh.write(_dumped(value, "  "))
    fh.write("\n}\n")
