"""One apply run on a session: safety limits, then the requests, with the audit log open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.apply.audit_log import AuditLog
from reconciler.apply.engine import Applier
from reconciler.apply.report import ApplyReport
from reconciler.connect import Session
from reconciler.desired.models import Safety
from reconciler.errors import UnsafePlan
from reconciler.plan.model import Change, Plan
from reconciler.vocab import ProgressHook, no_progress

DEFAULT_AUDIT_LOG = Path(".reconciler") / "audit.log"
# Below this many managed targets a share limit says little (2 of 5 is 40 %): only the count holds.
MIN_TARGETS_FOR_SHARE_LIMIT = 20
OVERRIDE_HINT = (
    "Check the plan, then apply with --force, or raise the `safety:` limits in reconciler.yaml"
)


def changed_targets(plan: Plan) -> int:
    return len({request.target for request in plan.requests})


def _limit_reasons(plan: Plan, safety: Safety) -> list[str]:
    changed, managed = changed_targets(plan), max(plan.summary.targets, 1)
    reasons = []
    if changed > safety.max_changed_targets:
        reasons.append(
            f"{changed} targets change, more than max_changed_targets "
            f"({safety.max_changed_targets})"
        )
    share = 100 * changed / managed
    if managed >= MIN_TARGETS_FOR_SHARE_LIMIT and share > safety.max_changed_percent:
        reasons.append(
            f"{share:.0f} % of {managed} managed targets change, more than "
            f"max_changed_percent ({safety.max_changed_percent} %)"
        )
    return reasons


def check_safety(
    plan: Plan, safety: Safety, *, force: bool, weakening: Sequence[Change] = ()
) -> None:
    """Refuse (UnsafePlan) a plan beyond the repo's safety limits, or one that weakens security.

    `weakening`: the changes that a policy marks as weakening security (the policy engine passes
    them); like the limits, they need --force.
    """
    if force:
        return
    reasons = _limit_reasons(plan, safety)
    if weakening:
        reasons.append(f"{len(weakening)} change(s) weaken security according to a policy")
    if reasons:
        raise UnsafePlan(f"refusing an unsafe plan: {'; '.join(reasons)}. {OVERRIDE_HINT}")


@dataclass(frozen=True)
class ApplySettings:
    audit_log: Path
    safety: Safety
    # Saved plans: re-read each family before its PATCH and leave out what moved since.
    compare_and_set: bool
    force: bool = False  # go past the safety limits
    fail_fast: bool = False


async def run_apply(
    plan: Plan,
    session: Session,
    settings: ApplySettings,
    progress: ProgressHook = no_progress,
) -> ApplyReport:
    """Apply a plan on the run's session; refuses (UnsafePlan) beyond the safety limits first,
    so no caller can send a plan that the repo's limits forbid."""
    check_safety(plan, settings.safety, force=settings.force)
    with AuditLog(settings.audit_log, plan.repo_commit) as audit:
        applier = Applier(
            plan,
            session.reader,
            audit,
            compare_and_set=settings.compare_and_set,
            fail_fast=settings.fail_fast,
            progress=progress,
        )
        return await applier.run(session.workers)
