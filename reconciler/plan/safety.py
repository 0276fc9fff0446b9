"""What `apply` refuses a plan for without `--force`: the repo's safety limits and changes that
weaken security by an enabled rule.

One function judges both, so `plan` (which shows the refusals and exits 3 with
`--detailed-exitcode`), `apply --dry-run` (which says it would refuse) and `apply` (which
refuses) cannot disagree about the same plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.desired import DesiredState
from reconciler.desired.models import Safety
from reconciler.plan.model import Plan, Refusal, Weakening
from reconciler.plan.policies import engine_for, weakening_changes

# Below this many managed targets a share limit says little (2 of 5 is 40 %): only the count holds.
MIN_TARGETS_FOR_SHARE_LIMIT = 20
# At most this many weakening changes are named in a refusal's reason; the JSON plan has them all.
SHOWN_WEAKENING = 3
OVERRIDE_HINT = (
    "Check the plan, then apply with --force, or raise the `safety:` limits in reconciler.yaml"
)


def changed_targets(plan: Plan) -> int:
    return len({request.target for request in plan.requests})


def judge_refusals(plan: Plan, state: DesiredState) -> list[Refusal]:
    """The refusals of `plan` under the current repo: its limits, and its rules judging each
    change again (a saved plan's own word on weakening is not taken)."""
    engine = engine_for(state)
    weakening = weakening_changes(plan, engine) if engine else []
    return refusals(plan, state.options.safety, weakening)


def refusals(plan: Plan, safety: Safety, weakening: Sequence[Weakening] = ()) -> list[Refusal]:
    """Every reason apply would refuse `plan` without --force, in a fixed order."""
    found = _limit_refusals(plan, safety)
    if weakening:
        shown = "; ".join(_weakening_text(item) for item in weakening[:SHOWN_WEAKENING])
        more = len(weakening) - SHOWN_WEAKENING
        shown += f"; and {more} more" if more > 0 else ""
        found.append(
            Refusal(
                "weakens_security",
                f"{len(weakening)} change(s) weaken security by a policy rule: {shown}",
            )
        )
    return found


def refusal_message(found: Sequence[Refusal]) -> str:
    """The one message apply refuses with."""
    reasons = "; ".join(refusal.reason for refusal in found)
    return f"refusing an unsafe plan: {reasons}. {OVERRIDE_HINT}"


def managed_targets(plan: Plan) -> int:
    """The targets the share limit counts: those planned, and with --changed-since the files'
    targets left out as unchanged (a pull request's plan is judged against the repo it joins)."""
    return plan.summary.targets + plan.summary.targets_skipped_unchanged


def _limit_refusals(plan: Plan, safety: Safety) -> list[Refusal]:
    changed, managed = changed_targets(plan), max(managed_targets(plan), 1)
    found = []
    if changed > safety.max_changed_targets:
        found.append(
            Refusal(
                "max_changed_targets",
                f"{changed} targets change, more than max_changed_targets "
                f"({safety.max_changed_targets})",
            )
        )
    share = 100 * changed / managed
    if managed >= MIN_TARGETS_FOR_SHARE_LIMIT and share > safety.max_changed_percent:
        found.append(
            Refusal(
                "max_changed_percent",
                f"{share:.0f} % of {managed} managed targets change, more than "
                f"max_changed_percent ({safety.max_changed_percent} %)",
            )
        )
    return found


def _weakening_text(item: Weakening) -> str:
    change = item.change
    where = f"{change.target.label} [{change.family}] {'.'.join(change.path)}"
    return f"{where} ({', '.join(item.rules)})"
