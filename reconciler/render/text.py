"""Terraform-like text for a terminal: a header per target, a line per change, then a summary.

Colour is a handful of plain ANSI codes rather than rich: rich measures and wraps lines for a
console width, and this output must be exact for golden files, pipes and CI logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from reconciler.escape import printable
from reconciler.plan.model import Change, Plan, Summary, Unknown
from reconciler.render.changes import (
    NO_CHANGES,
    PRE_EXISTING,
    REFUSED_HEAD,
    blocked_before_note,
    by_target,
    field_name,
    marker,
    nothing_to_do,
    plural,
    refusal_lines,
    skipped_notes,
    value_text,
)
from reconciler.render.policy import policy_lines
from reconciler.targets import TargetRef

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
MARKER_COLORS = {"~": "\x1b[33m", "+": "\x1b[32m", "!": RED, "?": "\x1b[35m"}
# Sources line up in a column, but one very long value (a big list) should push only its own
# source to the right instead of every line of the target.
SOURCE_COLUMN_LIMIT = 100
GAP = "   "


@dataclass(frozen=True)
class _Painter:
    color: bool

    def __call__(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.color else text


def render(
    plan: Plan,
    fh: TextIO,
    *,
    color: bool = False,
    changed_since: str | None = None,
) -> None:
    """Write `plan` as text; `color` adds ANSI colours, `changed_since` names the base revision."""
    paint = _Painter(color)
    for target, changes in by_target(plan.changes).items():
        fh.write(_target_block(target, changes, paint, plan.was_blocked_before))
    if plan.unknown:
        fh.write(_unknown_block(plan.unknown, paint))
    policy = policy_lines(plan)
    if policy:
        fh.write("\n".join(policy) + "\n\n")
    refusals = refusal_lines(plan)
    if refusals:
        lines = [paint(REFUSED_HEAD, RED), *(f"  REFUSED {line}" for line in refusals)]
        fh.write("\n".join(lines) + "\n\n")
    fh.write(_summary_block(plan.counted_summary(), changed_since, paint))
    for note in blocked_before_note(plan, changed_since):
        fh.write(note + "\n")


def _target_block(
    target: TargetRef,
    changes: list[Change],
    paint: _Painter,
    blocked_before: Callable[[Change], bool],
) -> str:
    bodies = [f"{field_name(c)}: {value_text(c.before)} -> {value_text(c.after)}" for c in changes]
    width = max((len(body) for body in bodies if len(body) <= SOURCE_COLUMN_LIMIT), default=0)
    lines = [paint(printable(target.label), BOLD)]
    for change, body in zip(changes, bodies, strict=True):
        mark, tail = marker(change), _tail(change, paint, blocked_before(change))
        lines.append(f"  {paint(mark, MARKER_COLORS[mark])} {body.ljust(width)}{GAP}{tail}")
    return "\n".join(lines) + "\n\n"


def _tail(change: Change, paint: _Painter, before: bool) -> str:
    """Where the change comes from; for a blocked change first why, since that is what to fix
    (`before`: the base revision asked for it too)."""
    source = printable(change.source)
    reason = printable(change.reason) if change.reason else None
    if change.status != "blocked":
        return f"{source} ({reason})" if reason else source
    blocked = f"BLOCKED ({PRE_EXISTING})" if before else "BLOCKED"
    blocked = f"{blocked}: {reason}" if reason else blocked
    return f"{paint(blocked, RED)}{GAP}({source})"


def _unknown_block(unknown: list[Unknown], paint: _Painter) -> str:
    lines = ["Could not read (UNKNOWN, not in sync and not drift):"]
    for item in unknown:
        family = f" [{item.option}]" if item.option else ""
        lines.append(
            f"  {paint('?', MARKER_COLORS['?'])} {printable(item.target.label)}{family}: "
            f"{printable(item.error)}"
        )
    return "\n".join(lines) + "\n\n"


def _summary_block(summary: Summary, changed_since: str | None, paint: _Painter) -> str:
    lines = [f"{paint('Plan:', BOLD)} {_counts(summary)}"]
    if nothing_to_do(summary):
        lines.append(NO_CHANGES)
    lines += skipped_notes(summary, changed_since)
    return "\n".join(lines) + "\n"


def _counts(summary: Summary) -> str:
    changes = plural(summary.changes_pending, "change")
    targets = plural(summary.targets_with_changes, "target")
    in_sync = plural(summary.targets_in_sync, "target")
    return (
        f"{changes} to {targets}, {summary.changes_blocked} blocked, "
        f"{summary.unknown_targets} unknown; {in_sync} in sync."
    )
