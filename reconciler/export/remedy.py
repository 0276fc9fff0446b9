"""`export --remedy PACK`: the `remedy` of every rule that fails on the live account, written
into the repo at the right layer, so that the next plan fixes the finding.

Which rules fail is the audit's answer (the same reader, engine and lock views), so remediation
acts on exactly what an audit reports. By default a remedy goes to the level where the rule
failed: the account file for an account rule (with its locks, where the rule asks for them), a
group's file for a group, a user's file for a user (a user holds no locks). `--level account`
writes every failing rule's remedy into the account file instead; `--level group` writes a
user's into the user's primary group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.audit.engine import Auditor, AuditSettings
from reconciler.audit.model import AuditFinding, FindingKind, FindingStatus
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.state import leaves
from reconciler.desired.writer import Edit
from reconciler.export.engine import TargetFile, account_file, group_file, user_file
from reconciler.policy import Engine, load_named
from reconciler.vocab import Level


@dataclass
class Remedies:
    targets: list[TargetFile] = field(default_factory=list)
    # rule code -> the labels of the targets its remedy was written for
    acted: dict[str, list[str]] = field(default_factory=dict)
    without_remedy: dict[str, int] = field(default_factory=dict)  # failing rules with none
    unknown: list[str] = field(default_factory=list)


def remedy_edits(remedy: dict[str, Any], *, locks: bool) -> list[Edit]:
    edits = []
    for key, document in remedy.items():
        if key == "locks" and not locks:
            continue
        edits += [Edit((key, *path), value) for path, value in leaves(document)]
    return edits


async def find_remedies(
    state: DesiredState, session: Session, pack: str, level: Level | None
) -> Remedies:
    engine = Engine(load_named([pack], repo=state.root))
    settings = AuditSettings(datetime.now(UTC).date())
    auditor = Auditor(state, session.reader, engine, settings, workers=session.workers)
    result = await auditor.run()
    found = Remedies(unknown=[t.label for t in result.unknown_targets])
    files: dict[str, TargetFile] = {}
    for finding in result.findings:
        if finding.kind is not FindingKind.POLICY or finding.status is not FindingStatus.FAIL:
            continue
        rule = finding.rule
        assert rule is not None
        if not rule.remedy:
            code = finding.rule_code or ""
            found.without_remedy[code] = found.without_remedy.get(code, 0) + 1
            continue
        target = _file_for(state, finding, level, files)
        if target is None:
            continue
        target.edits += remedy_edits(rule.remedy, locks=target.level != "user")
        found.acted.setdefault(f"{rule.pack}/{rule.id}", []).append(finding.target.label)
    found.targets = [_deduplicated(t) for t in files.values()]
    return found


def _file_for(
    state: DesiredState, finding: AuditFinding, level: Level | None, files: dict[str, TargetFile]
) -> TargetFile | None:
    ref = finding.target.ref
    where: Level = ref.kind
    if level == "account" or (level == "group" and where == "user" and not finding.target.groups):
        where = "account"
    elif level == "group" and where == "user":
        where = "group"
    if where == "account":
        target = account_file(state)
    elif where == "group":
        name = ref.name if ref.kind == "group" else finding.target.groups[0]
        assert name is not None
        target = group_file(state, name)
    else:
        target = user_file(state, ref.email or "")
    # By target, not by file: two targets sharing a file are a collision the writer reports.
    return files.setdefault(target.label, target)


def _deduplicated(target: TargetFile) -> TargetFile:
    """One edit per path (two rules may remedy the same field; the last one stands)."""
    by_path = {edit.path: edit for edit in target.edits}
    target.edits = list(by_path.values())
    return target
