"""How a change is named and its values spelled: shared by the text and Markdown renderers."""

from __future__ import annotations

import json
from typing import Any

from reconciler.diff import MISSING
from reconciler.escape import printable
from reconciler.plan.model import Change, Plan, Summary
from reconciler.targets import TargetRef

NOT_SET = "(not set)"


def by_target(changes: list[Change]) -> dict[TargetRef, list[Change]]:
    """The changes of each target, targets in plan order (a dict keeps first appearance)."""
    grouped: dict[TargetRef, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.target, []).append(change)
    return grouped


def marker(change: Change) -> str:
    """`!` blocked, `+` the live side has no value yet, `~` a value changes."""
    if change.status == "blocked":
        return "!"
    return "+" if change.before is MISSING else "~"


def field_tags(change: Change) -> str:
    """`[family]` for a non-general family, `[locks]` or `[locks family]` for a lock; else ``."""
    tags = (["locks"] if change.locks else []) + ([change.option] if change.option else [])
    return f"[{' '.join(tags)}]" if tags else ""


def field_name(change: Change) -> str:
    """The dotted path, after its tags."""
    path = printable(".".join(change.path))
    tags = field_tags(change)
    return f"{tags} {path}" if tags else path


def value_text(value: Any) -> str:
    """A value as JSON, which is how the settings repo and Zoom both spell it."""
    if value is MISSING:
        return NOT_SET
    return printable(json.dumps(value, ensure_ascii=False))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def count_phrase(changes: list[Change]) -> str:
    """`3 changes`, `1 change, 1 blocked` or `2 blocked`: what one target's section holds."""
    blocked = sum(change.status == "blocked" for change in changes)
    pending = len(changes) - blocked
    parts = [plural(pending, "change")] if pending or not blocked else []
    return ", ".join(parts + ([f"{blocked} blocked"] if blocked else []))


def skipped_notes(summary: Summary, changed_since: str | None) -> list[str]:
    """The work a run skipped on purpose, each only when it happened."""
    notes = []
    if summary.reads_skipped_locked:
        notes.append(
            f"Reads skipped (locked above at the desired value): {summary.reads_skipped_locked}"
        )
    if summary.files_skipped:
        notes.append(
            f"Files skipped (their user is not active in Zoom; see the warnings): "
            f"{summary.files_skipped}"
        )
    if summary.targets_skipped_unchanged:
        since = changed_since or "the base revision"
        notes.append(
            f"Targets skipped (unchanged since {since}): {summary.targets_skipped_unchanged}"
        )
    return notes


def nothing_to_do(summary: Summary) -> bool:
    return not (
        summary.changes_pending
        or summary.changes_blocked
        or summary.unknown_targets
        or summary.files_skipped
    )


NO_CHANGES = "No changes. Zoom matches the settings repo."


REFUSED_HEAD = "Apply will refuse this plan without --force:"
PRE_EXISTING = "pre-existing"


def refusal_lines(plan: Plan) -> list[str]:
    """`code: reason`, one a refusal, in the order apply names them."""
    return [f"{refusal.code}: {printable(refusal.reason)}" for refusal in plan.refusals]


def blocked_before_note(plan: Plan, changed_since: str | None) -> list[str]:
    """How many BLOCKED changes the base revision asked for too (they do not fail the plan)."""
    count = sum(plan.was_blocked_before(change) for change in plan.blocked)
    if not count:
        return []
    since = changed_since or "the base revision"
    return [
        f"BLOCKED at {since} too ({PRE_EXISTING}; they do not fail this plan): "
        f"{count} of {len(plan.blocked)}"
    ]
