"""The audit as Markdown for an issue or a PR comment: the counts, the failing rules, then every
finding as a table row while the comment has room (GitHub refuses more than 65,536 characters);
a closing note says how many rows were left out and where the full report is."""

from __future__ import annotations

import json
from typing import Any, TextIO

from reconciler.audit.changed_by import ChangedBy
from reconciler.audit.model import AuditFinding, AuditResult, FindingStatus
from reconciler.diff import MISSING
from reconciler.policy.fields import manual_levels
from reconciler.render.markdown import COMMENT_LIMIT, code, escape
from reconciler.render.scorecard import scorecard_markdown

TITLE = "### reconciler audit"
_FINDINGS_HEAD = (
    "| status | severity | target | field | Zoom has | expected | rule | source |\n"
    "|---|---|---|---|---|---|---|---|"
)
_STATUS_MARK = {
    FindingStatus.FAIL: "❌ fail",
    FindingStatus.DRIFT: "⚠️ drift",
    FindingStatus.UNKNOWN: "❓ unknown",
    FindingStatus.ACKNOWLEDGED: "✅ acknowledged",
}


def render(result: AuditResult, fh: TextIO, *, limit: int = COMMENT_LIMIT) -> None:
    head = "\n".join(_head(result)) + "\n" + scorecard_markdown(result)
    tail = "\n".join(_tail(result))
    tail = "\n" + tail + "\n" if tail else ""
    total = len(result.findings)
    if not total:
        fh.write(head + tail)
        return
    table_head = f"\n#### Findings\n\n{_FINDINGS_HEAD}\n"
    room = limit - len(head) - len(table_head) - len(tail) - len(_cut_note(total))
    shown: list[str] = []
    used = 0
    for finding in result.findings:  # rows made only until the comment is full
        row = _row(finding, result.changed_by(finding)) + "\n"
        if used + len(row) > room:
            break
        shown.append(row)
        used += len(row)
    note = _cut_note(total - len(shown)) if len(shown) < total else ""
    fh.write(head + table_head + "".join(shown) + note + tail)


def _cut_note(left_out: int) -> str:
    return (
        f"\n**{left_out} finding{'' if left_out == 1 else 's'} not shown (comment limit); "
        "see the JSON or HTML audit report.**\n"
    )


def _head(result: AuditResult) -> list[str]:
    failing = result.failing_count
    verdict = "clean: no drift, no failing rule" if result.clean else f"{failing} failing"
    lines = [
        TITLE,
        "",
        f"Account `{escape(result.account_id)}`, {result.started_at}: **{verdict}**.",
    ]
    if result.repo_commit:
        lines.append(f"Settings repo at commit `{result.repo_commit}`.")
    if result.inferred_note:
        lines.append(f"{escape(result.inferred_note)}.")
    counts = result.counts_by_result()
    levels: dict[str, int] = {"account": 0, "group": 0, "user": 0}
    for target in result.targets:
        levels[target.ref.kind] += 1
    lines += [
        "",
        "| targets | " + " | ".join(counts) + " |",
        "|---" * (len(counts) + 1) + "|",
        f"| {len(result.targets)} ({levels['group']} groups, {levels['user']} users) | "
        + " | ".join(str(v) for v in counts.values())
        + " |",
    ]
    failing_rules = _failing_rules(result)
    if failing_rules:
        lines += [
            "",
            "#### Failing rules",
            "",
            "| rule | severity | fail | unknown | acknowledged |",
        ]
        lines.append("|---|---|---|---|---|")
        lines += failing_rules
    manual = _manual_steps(result)
    if manual:
        lines += [
            "",
            "#### Manual steps (no API can fix these; `export --remedy` lists them too)",
            "",
        ]
        lines += manual
    return lines


def _manual_steps(result: AuditResult) -> list[str]:
    steps = []
    for rule in result.rules:
        rule_code = rule.code
        levels = manual_levels(rule)
        if not levels or not result.rule_counts(rule_code)["fail"]:
            continue
        where = f": {escape(rule.portal)}" if rule.portal else ""
        steps.append(f"- {code(rule_code)} at {', '.join(levels)} level{where}")
    return steps


def _failing_rules(result: AuditResult) -> list[str]:
    rows = []
    for rule in result.rules:
        rule_code = rule.code
        counts = result.rule_counts(rule_code)
        if counts["fail"] or counts["unknown"] or counts["acknowledged"]:
            rows.append(
                f"| {code(rule_code)} {escape(rule.title)} | {rule.severity} | {counts['fail']} "
                f"| {counts['unknown']} | {counts['acknowledged']} |"
            )
    return rows


def _row(finding: AuditFinding, changed: ChangedBy | None = None) -> str:
    cells = [
        _STATUS_MARK[finding.status],
        finding.severity,
        escape(finding.target.label),
        code(finding.field_label) if finding.family else "-",
        _value(finding.actual),
        _value(finding.expected),
        code(finding.rule_code) if finding.rule_code else finding.kind.value,
        code(str(finding.where)) if finding.where else escape(finding.message),
    ]
    if finding.locked_by:
        cells[3] += f" (locked by {escape(finding.locked_by)})"
    if finding.inferred_from:
        cells[3] += f" (inferred from {escape(finding.inferred_from)})"
    if changed is not None:
        by = changed.operator or changed.operator_id or "unknown"
        cells[3] += f" (changed by {escape(by)} at {escape(changed.changed_at)})"
    if finding.acknowledged is not None:
        ack = finding.acknowledged
        cells[0] += f" by {escape(ack.owner)} until {ack.expires}"
    return "| " + " | ".join(cells) + " |"


def _value(value: Any) -> str:
    if value is MISSING:
        return "-"
    return code(json.dumps(value, ensure_ascii=False))


def _tail(result: AuditResult) -> list[str]:
    lines: list[str] = []
    if result.acknowledgements:
        lines += ["#### Acknowledged deviations", ""]
        for ack in result.acknowledgements:
            what = ack.rule or ack.field or ""
            state = "**expired**" if ack.expired else "until"
            lines.append(
                f"- {code(what)} for {code(ack.target)}: {escape(ack.owner)}, {state} "
                f"{ack.expires} ({code(ack.where)}): {escape(ack.reason)}"
            )
        lines.append("")
    if result.since is not None:
        since = result.since
        lines += [
            f"#### Changed in Zoom since {escape(since.taken_at)}",
            "",
            f"{since.targets_changed} of {since.targets_compared} targets changed; "
            f"{len(since.added)} new, {len(since.removed)} gone.",
            "",
        ]
        for change in since.changes[:200]:
            lines.append(
                f"- {escape(change.target)} {code(change.family + '.' + change.path)}: "
                f"{_value(change.before)} → {_value(change.after)}"
            )
        if len(since.changes) > 200:
            lines.append(f"- … {len(since.changes) - 200} more in the JSON report")
    return lines
