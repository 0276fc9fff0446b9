"""A plan as a GitHub pull-request comment: summary table, one collapsible section per target.

GitHub refuses a comment over 65,536 characters, and a plan for a whole account easily exceeds
that. So sections are added in plan order while they fit, whole or not at all (a cut section would
leave an open <details> that swallows the rest), and a closing note says how many were left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TextIO

from reconciler.diagnostic import Diagnostic
from reconciler.escape import printable
from reconciler.plan.model import Change, Plan, Summary, Unknown
from reconciler.render.changes import (
    NO_CHANGES,
    PRE_EXISTING,
    REFUSED_HEAD,
    blocked_before_note,
    by_target,
    count_phrase,
    field_tags,
    marker,
    nothing_to_do,
    plural,
    skipped_notes,
    value_text,
)
from reconciler.render.policy import policy_lines
from reconciler.targets import TargetRef

COMMENT_LIMIT = 65_536
TITLE = "### reconciler plan"
# Skipped files named in the comment; the JSON plan has them all.
MAX_SKIPPED_SHOWN = 20
TABLE_HEAD = "| | field | before | after | source |\n|---|---|---|---|---|"
# Characters that Markdown would read as formatting in free text (reasons, error messages).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


@dataclass(frozen=True)
class _Part:
    """A piece of the comment that is shown whole or not at all; `target` is what it reports on."""

    text: str
    target: TargetRef | None = None


def render(
    plan: Plan,
    fh: TextIO,
    *,
    color: bool = False,
    changed_since: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> None:
    """Write `plan` as one PR comment of at most `limit` characters (never coloured)."""
    del color
    parts = [*_unknown_parts(plan.unknown), *_target_parts(plan)]
    fh.write(_fit(_head(plan, changed_since), parts, limit))


def _fit(head: str, parts: list[_Part], limit: int) -> str:
    """`head` and the parts that fit under `limit`, and a note about any left out."""
    texts = [head, *(part.text for part in parts)]
    if sum(map(len, texts)) <= limit:
        return "".join(texts)
    room = limit - len(_cut_note(len(parts)))  # the longest note it could need
    count = _count_fitting(len(head), parts, room)
    left_out = {part.target for part in parts[count:] if part.target is not None}
    return "".join([*texts[: count + 1], _cut_note(len(left_out))])


def _count_fitting(used: int, parts: list[_Part], room: int) -> int:
    """How many of `parts`, from the first, fit in `room` after `used` characters."""
    for index, part in enumerate(parts):
        used += len(part.text)
        if used > room:
            return index
    return len(parts)


def _cut_note(left_out: int) -> str:
    return (
        f"\n**{plural(left_out, 'target')} not shown (comment limit); run reconciler plan"
        " locally or see the JSON plan artifact.**\n"
    )


def _head(plan: Plan, changed_since: str | None) -> str:
    lines = [TITLE, ""]
    if plan.repo_commit:
        lines += [f"Settings repo at commit `{plan.repo_commit}`.", ""]
    summary = plan.counted_summary()
    lines += _summary_table(summary)
    if plan.refusals:
        lines += ["", "> [!CAUTION]", f"> **{escape(REFUSED_HEAD)}**", ">"]
        lines += [f"> - {code(r.code)}: {escape(r.reason)}" for r in plan.refusals]
    notes = ([NO_CHANGES] if nothing_to_do(summary) else []) + skipped_notes(summary, changed_since)
    notes += blocked_before_note(plan, changed_since)
    if notes:
        lines += ["", "<br>\n".join(notes)]
    lines += _skipped_files(plan.skipped)
    policy = policy_lines(plan)
    if policy:
        lines += ["", escape(policy[0]), *(f"- {escape(line.strip())}" for line in policy[1:])]
    return "\n".join(lines) + "\n"


def _skipped_files(skipped: list[Diagnostic]) -> list[str]:
    """Each skipped file named, with why: a pull request's reader never sees the run's warnings."""
    if not skipped:
        return []
    lines = ["", "**Skipped files:**"]
    for item in skipped[:MAX_SKIPPED_SHOWN]:
        hint = f" ({escape(item.hint)})" if item.hint else ""
        lines.append(f"- {code(item.where or '(no file)')}: {escape(item.message)}{hint}")
    if len(skipped) > MAX_SKIPPED_SHOWN:
        more = len(skipped) - MAX_SKIPPED_SHOWN
        lines.append(f"- and {plural(more, 'more file')} (the JSON plan artifact lists all)")
    return lines


def _summary_table(summary: Summary) -> list[str]:
    counts = [
        summary.targets_with_changes,
        summary.changes_pending,
        summary.changes_blocked,
        summary.unknown_targets,
        summary.targets_in_sync,
    ]
    return [
        "| targets with changes | changes pending | blocked | unknown | in sync |",
        "|---:|---:|---:|---:|---:|",
        "| " + " | ".join(map(str, counts)) + " |",
    ]


def _unknown_parts(unknown: list[Unknown]) -> list[_Part]:
    if not unknown:
        return []
    targets = plural(len({item.target for item in unknown}), "target")
    warning = (
        f"\n> [!WARNING]\n> **Could not read {targets}**: UNKNOWN, neither in sync nor drift."
        " This plan is incomplete.\n>\n"
    )
    return [_Part(warning)] + [_Part(_unknown_line(item), item.target) for item in unknown]


def _unknown_line(item: Unknown) -> str:
    family = f" [{item.option}]" if item.option else ""
    return f"> - {code(item.target.label)}{family}: {escape(item.error)}\n"


def _target_parts(plan: Plan) -> list[_Part]:
    grouped = by_target(plan.changes)
    return [_Part(_section(target, own, plan), target) for target, own in grouped.items()]


def _section(target: TargetRef, changes: list[Change], plan: Plan) -> str:
    title = html.escape(f"{target.label}: {count_phrase(changes)}")
    lines = [f"\n<details><summary>{title}</summary>", "", TABLE_HEAD]
    lines += [_row(change) for change in changes]
    reasons = [
        _reason(change, plan.was_blocked_before(change))
        for change in changes
        if change.status == "blocked"
    ]
    if reasons:
        lines += ["", "**Blocked:**", *reasons]
    pinned = [_reason(c) for c in changes if c.status == "pending" and c.reason]
    if pinned:
        lines += ["", "**Pinned** (a level above changes them; written so they stay):", *pinned]
    return "\n".join([*lines, "", "</details>", ""])


def _row(change: Change) -> str:
    tags, path = field_tags(change), code(".".join(change.path))
    field = f"{tags} {path}" if tags else path
    cells = [marker(change), field, code(value_text(change.before))]
    cells += [code(value_text(change.after)), code(change.source)]
    return "| " + " | ".join(cells) + " |"


def _reason(change: Change, before: bool = False) -> str:
    """`before`: the base revision asked for this BLOCKED change too."""
    tag = f" ({PRE_EXISTING})" if before else ""
    return f"- {code('.'.join(change.path))}{tag}: {escape(change.reason or 'blocked')}"


def code(text: str) -> str:
    """`text` as a code span that is safe inside a table cell.

    The fence is one backtick longer than any run of backticks inside, as CommonMark allows.
    GitHub splits table cells on `|` before it reads code spans, so a pipe is escaped even there.
    """
    text = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("|", "\\|")
    return f"{fence}{pad}{body}{pad}{fence}"


def escape(text: str) -> str:
    """Free text shown as written, not as Markdown or HTML; newlines kept inside one list item."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text.replace("\n", " ")))
