"""The part of a saved plan that `--target` selectors name (the selectors: `reconciler.targets`)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.plan.model import Plan
from reconciler.targets import Scope


def within(plan: Plan, scope: Scope) -> Plan:
    """The part of a saved plan whose targets `scope` names: their changes, requests, unknown
    reads and rechecks; the targets left out are no longer counted."""
    left_out = {change.target for change in plan.changes if not scope.covers(change.target)}
    left_out |= {item.target for item in plan.unknown if not scope.covers(item.target)}
    return replace(
        plan,
        changes=[c for c in plan.changes if scope.covers(c.target)],
        requests=[r for r in plan.requests if scope.covers(r.target)],
        unknown=[u for u in plan.unknown if scope.covers(u.target)],
        below_changes=[t for t in plan.below_changes if scope.covers(t)],
        findings=[f for f in plan.findings if scope.covers(f.target)],
        weakening=[w for w in plan.weakening if scope.covers(w.change.target)],
        summary=replace(plan.summary, targets=plan.summary.targets - len(left_out)),
        refusals=[],  # judged again on what is left, by whoever applies it
    )
