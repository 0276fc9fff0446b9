"""One apply run on a session: safety limits, then the requests, with the audit log open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.apply.audit_log import Annotate, AuditLog
from reconciler.apply.engine import Applier
from reconciler.apply.proposal import check_proposal
from reconciler.apply.report import ApplyReport, Traffic
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.errors import ReconcilerError, UnsafePlan
from reconciler.plan.engine import build_plan
from reconciler.plan.model import Plan
from reconciler.plan.safety import judge_refusals, refusal_message
from reconciler.targets import Scope
from reconciler.vocab import ProgressHook, email_key, no_progress

DEFAULT_MAX_PLAN_AGE = timedelta(hours=24)


def check_safety(plan: Plan, state: DesiredState, *, force: bool) -> None:
    """Refuse (UnsafePlan) a plan beyond the repo's safety limits, or one that a rule of the
    repo's policy packs marks as weakening security (judged again here, for a saved plan too).

    The same judgement as the plan's own `refusals`, so plan and apply cannot disagree."""
    if force:
        return
    found = judge_refusals(plan, state)
    if found:
        codes = tuple((refusal.code, refusal.reason) for refusal in found)
        raise UnsafePlan(refusal_message(found), refusals=codes)


@dataclass(frozen=True)
class ApplySettings:
    audit_log: Path
    run_id: str
    # A saved plan: check it against the account and the repo, re-read each family before its
    # PATCH, leave out what moved since, and build the bodies from the changes.
    saved_plan: bool
    force: bool = False  # go past the safety limits
    fail_fast: bool = False
    max_plan_age: timedelta = DEFAULT_MAX_PLAN_AGE
    annotate: Annotate | None = None  # extra fields on each audit log line


async def check_plan(
    plan: Plan, state: DesiredState, session: Session, settings: ApplySettings
) -> None:
    """Everything that refuses a plan before the first request: the safety limits, and for a
    saved plan its account, age, repo state and every change against the repo."""
    check_safety(plan, state, force=settings.force)
    if settings.saved_plan:
        now = datetime.now(UTC)
        await check_proposal(plan, state, session, max_age=settings.max_plan_age, now=now)


async def run_apply(
    plan: Plan,
    state: DesiredState,
    session: Session,
    settings: ApplySettings,
    progress: ProgressHook = no_progress,
) -> ApplyReport:
    """Apply a plan on the run's session, after `check_plan` (so no caller can skip it), and
    end by reading again what could have moved with the changes above it.

    The report's traffic is the session's: a session is one command, so it counts every request
    of the run, from the token and the plan's reads to the final re-check."""
    await check_plan(plan, state, session, settings)
    with AuditLog(
        settings.audit_log, plan.repo_commit, settings.run_id, settings.annotate
    ) as audit:
        applier = Applier(
            plan,
            session.reader,
            audit,
            compare_and_set=settings.saved_plan,
            fail_fast=settings.fail_fast,
            progress=progress,
        )
        report = await applier.run(session.workers)
    await recheck(plan, state, session, report)
    report.traffic = Traffic.of(session.zoom.counters)
    return report


async def recheck(plan: Plan, state: DesiredState, session: Session, report: ApplyReport) -> None:
    """Plan again the managed targets below a changed account or group that got no request of
    their own: "converged" is what this read finds, not what the plan assumed.

    (Targets that got requests were read back after their PATCH, which came after every write
    above them: account, then groups, then users.)
    """
    sent = {request.target for request in plan.requests}
    below = [target for target in plan.below_changes if target not in sent]
    if not below or report.stopped:
        return
    scope = Scope(
        account=False,
        groups=frozenset(t.name or t.id for t in below if t.kind == "group"),
        users=frozenset(email_key(t.email or t.id) for t in below if t.kind == "user"),
    )
    try:
        again = await build_plan(state, session.reader.fresh(), scope, workers=session.workers)
    except ReconcilerError as error:
        report.recheck_error = str(error)
        return
    report.rechecked = len(below)
    report.still_pending = again.pending
    if again.unknown:
        report.recheck_error = f"{len(again.unknown)} read(s) failed: {again.unknown[0].error}"
