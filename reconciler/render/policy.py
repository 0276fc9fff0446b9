"""The policy part of a plan, shared by the text and Markdown renderers: what the plan
introduces, fixes and leaves, and the changes a rule marks as weakening security."""

from __future__ import annotations

from reconciler.escape import printable
from reconciler.plan.model import FindingState, Plan

# At most this many lines of introduced findings and weakening changes; the JSON has them all.
MAX_LINES = 30


def policy_lines(plan: Plan) -> list[str]:
    """Nothing when no pack judged anything; else a count line and the lines that matter."""
    if not (plan.findings or plan.findings_left or plan.weakening):
        return []
    counts = dict.fromkeys(FindingState, 0)
    for finding in plan.findings:
        counts[finding.state] += 1
    counts[FindingState.LEFT] = sum(plan.findings_left.values())
    lines = [
        f"Policy: {counts[FindingState.INTRODUCED]} violation(s) introduced, "
        f"{counts[FindingState.FIXED]} fixed, {counts[FindingState.LEFT]} left as they are, "
        f"{counts[FindingState.UNKNOWN]} unknown; {len(plan.weakening)} change(s) weaken security"
    ]
    shown = [f for f in plan.findings if f.state in (FindingState.INTRODUCED, FindingState.UNKNOWN)]
    lines += [
        f"  {f.state.value.upper()} {printable(f.target.label)}: {f.rule} ({printable(f.title)})"
        for f in shown[:MAX_LINES]
    ]
    for item in plan.weakening[:MAX_LINES]:
        change = item.change
        where = f"{change.target.label} [{change.family}] {'.'.join(change.path)}"
        lines.append(f"  WEAKENS {printable(where)}: {', '.join(item.rules)} (apply needs --force)")
    more = len(shown) + len(plan.weakening) - 2 * MAX_LINES
    if more > 0:
        lines.append("  ... and more (the JSON plan lists them all)")
    return lines
