"""The apply use case: one call that owns every step of `apply`, for the CLI and for a long-running
process alike (`reconcile`), and the steps it is made of.

`reconcile` prints nothing, asks nothing and never exits: what it shows goes through the
callbacks it is given (`shown`, `confirm`, `phases`), what it did comes back as an
`ApplyOutcome` the caller renders, and the exit code is `exitcodes.for_outcome`'s.

Every check runs once: `check_plan` is the only maker of a `CheckedPlan`, and `run_apply` takes
nothing else, so no caller can skip the checks or repeat them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.apply.audit_log import Annotate, AuditLog, audit_log_path, check_audit_log
from reconciler.apply.engine import Applier
from reconciler.apply.proposal import check_proposal
from reconciler.apply.report import ApplyReport, Traffic
from reconciler.apply.runlock import RunLock, new_run_id, run_lock_path
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.errors import ReconcilerError, UnsafePlan
from reconciler.plan.engine import build_plan
from reconciler.plan.model import Plan, Refusal, load_plan
from reconciler.plan.run import make_plan, scope_for
from reconciler.plan.safety import judge_refusals, refusal_message
from reconciler.plan.scope import within
from reconciler.targets import Scope, parse_selectors
from reconciler.usecase import Phases, SessionSource, no_phases, session_of
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


_CHECKED = object()  # only this module makes the values below: holding one means a check ran


@dataclass(frozen=True)
class GenuinePlan:
    """A saved plan that passed its own check (`check_saved`), or a part of one."""

    plan: Plan
    token: object = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.token is not _CHECKED:
            raise TypeError("a GenuinePlan comes from check_saved")

    def within(self, scope: Scope) -> GenuinePlan:
        """Only the scope's part: every change of it was checked with the whole."""
        return GenuinePlan(within(self.plan, scope), _CHECKED)


@dataclass(frozen=True)
class CheckedPlan:
    """A plan that passed `check_plan` under these settings: the only thing `run_apply` takes."""

    plan: Plan
    settings: ApplySettings
    token: object = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.token is not _CHECKED:
            raise TypeError("a CheckedPlan comes from check_plan")


async def check_saved(
    plan: Plan, state: DesiredState, session: Session, settings: ApplySettings
) -> GenuinePlan:
    """A saved plan's own check (PlanRefused): its account, age, repo state and every change
    against the repo."""
    now = datetime.now(UTC)
    await check_proposal(plan, state, session, max_age=settings.max_plan_age, now=now)
    return GenuinePlan(plan, _CHECKED)


async def check_plan(
    plan: Plan | GenuinePlan, state: DesiredState, session: Session, settings: ApplySettings
) -> CheckedPlan:
    """Everything that refuses a plan before the first request: the safety limits, and for a
    saved plan its own check (`check_saved`), unless it is a GenuinePlan: that check ran."""
    if isinstance(plan, GenuinePlan):
        check_safety(plan.plan, state, force=settings.force)
        return CheckedPlan(plan.plan, settings, _CHECKED)
    check_safety(plan, state, force=settings.force)
    if settings.saved_plan:
        await check_saved(plan, state, session, settings)
    return CheckedPlan(plan, settings, _CHECKED)


async def run_apply(
    checked: CheckedPlan,
    state: DesiredState,
    session: Session,
    progress: ProgressHook = no_progress,
) -> ApplyReport:
    """Apply a checked plan on the run's session, and end by reading again what could have
    moved with the changes above it.

    The report's traffic is the session's: a session is one command, so it counts every request
    of the run, from the token and the plan's reads to the final re-check."""
    plan, settings = checked.plan, checked.settings
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


# -- the use case -------------------------------------------------------------------------------


CHANGED_SINCE_WITH_PLAN = (
    "--changed-since does not go with --plan: a saved plan keeps the scope it was made with "
    "(plan with --changed-since --out FILE, or pick targets of the saved plan with --target)"
)


@dataclass(frozen=True)
class ApplyRequest:
    """What one apply is asked to do (the command line's options, or a watcher's)."""

    plan_file: Path | None = None  # a saved plan, else plan now
    targets: tuple[str, ...] = ()  # selectors: the plan's scope, or the part of a saved plan
    changed_since: str | None = None  # a git revision: plan only what changed since
    dry_run: bool = False
    force: bool = False
    fail_fast: bool = False
    lock_timeout: float = 0.0  # seconds to wait for another apply of this repo and account
    max_plan_age: timedelta = DEFAULT_MAX_PLAN_AGE
    audit_log: Path | None = None  # else the repo's .reconciler/audit.log
    # A scope made by the caller (a watcher's touched targets and the members they reach),
    # instead of `targets` and `changed_since`.
    scope: Scope | None = None
    annotate: Annotate | None = None  # extra fields on each audit log line (a watcher's cause)

    def __post_init__(self) -> None:
        if self.plan_file is not None and self.changed_since:
            raise ReconcilerError(CHANGED_SINCE_WITH_PLAN)
        if self.scope is not None and (self.plan_file or self.targets or self.changed_since):
            raise ReconcilerError("a scope goes with none of --plan, --target, --changed-since")


@dataclass(frozen=True)
class SavedScope:
    """How much of a saved plan `--target` kept."""

    changes: int
    of_changes: int
    requests: int
    of_requests: int


@dataclass(frozen=True)
class ApplyOutcome:
    """What one apply did, for the caller to render and pick the exit code from.

    A dry run: `would_refuse` is set (what the limits and rules would refuse without --force) and
    `report` is None; the requests it shows are the plan's. Cancelled at the confirmation:
    nothing was sent and `report` is None. Otherwise the apply's report (with nothing sent when
    the plan had no request)."""

    plan: Plan
    run_id: str
    report: ApplyReport | None = None
    would_refuse: list[Refusal] | None = None
    cancelled: bool = False

    @property
    def dry_run(self) -> bool:
        return self.would_refuse is not None


def _shown_nowhere(plan: Plan, scoped: SavedScope | None) -> None:
    del plan, scoped


async def reconcile(
    state: DesiredState,
    session: Session | SessionSource,
    request: ApplyRequest,
    *,
    confirm: Callable[[Plan], bool],
    shown: Callable[[Plan, SavedScope | None], None] = _shown_nowhere,
    phases: Phases = no_phases,
) -> ApplyOutcome:
    """One apply: the audit log's pre-check, the run lock, the plan (made now, or loaded and
    found genuine, then cut to `targets`), every check once, the dry run or the confirmation,
    the requests and the re-check.

    `session`: an open session, or the means to open one: the CLI passes the latter, so that a
    log it could not write refuses the run before a session exists (no token asked for, nothing
    read in vain). `shown` gets the plan once nothing of it is unchecked (a saved plan only
    after its own check), before any request is sent; `confirm` is asked before the first
    request unless it is a dry run (False cancels; it may raise Refused); `phases` gives each
    phase's progress hook. Raises what refuses the run (UnsafePlan, PlanRefused, RunLocked,
    AuditLogError, ...)."""
    log = None if request.dry_run else audit_log_path(state.root, request.audit_log)
    if log is not None:
        check_audit_log(log)  # before anything is read, so nothing is read in vain
    session = await session_of(session)
    run_id = new_run_id()
    settings = ApplySettings(
        audit_log=log or Path(),
        run_id=run_id,
        saved_plan=request.plan_file is not None,
        force=request.force or request.dry_run,  # a dry run shows what the limits would refuse
        fail_fast=request.fail_fast,
        max_plan_age=request.max_plan_age,
        annotate=request.annotate,
    )
    async with _run_lock(log, state, session, run_id, request.lock_timeout):
        made, scoped = await _plan_for(state, session, request, settings, phases)
        plan = made.plan if isinstance(made, GenuinePlan) else made
        shown(plan, scoped)
        if request.dry_run:
            would_refuse = [] if request.force else judge_refusals(plan, state)
            return ApplyOutcome(plan, run_id, would_refuse=would_refuse)
        if not plan.requests:
            traffic = Traffic.of(session.zoom.counters)
            return ApplyOutcome(plan, run_id, ApplyReport.nothing_sent(plan.blocked, traffic))
        checked = await check_plan(made, state, session, settings)
        if not confirm(plan):
            return ApplyOutcome(plan, run_id, cancelled=True)
        with phases("apply", session) as progress:
            report = await run_apply(checked, state, session, progress)
    return ApplyOutcome(plan, run_id, report)


@contextlib.asynccontextmanager
async def _run_lock(
    log: Path | None, state: DesiredState, session: Session, run_id: str, timeout: float
) -> AsyncIterator[None]:
    """The repo and account's run lock, for a run that can send (a dry run takes none), waited
    for without blocking the loop."""
    if log is None:
        yield
        return
    async with RunLock(run_lock_path(state.root, session.account_id), run_id, timeout=timeout):
        yield


async def _plan_for(
    state: DesiredState,
    session: Session,
    request: ApplyRequest,
    settings: ApplySettings,
    phases: Phases,
) -> tuple[Plan | GenuinePlan, SavedScope | None]:
    """The plan made now; or the saved plan, its own check passed (nothing of it is shown before
    it is found genuine), then only the `targets`' part of it."""
    if request.plan_file is None:
        scope = request.scope
        if scope is None:
            scope = scope_for(state, request.targets, request.changed_since)
        with phases("plan", session) as progress:
            return await make_plan(state, session, scope, progress), None
    saved = load_plan(request.plan_file)
    genuine = await check_saved(saved, state, session, settings)
    if not request.targets:
        return genuine, None
    part = genuine.within(parse_selectors(request.targets))
    scoped = SavedScope(
        len(part.plan.changes), len(saved.changes), len(part.plan.requests), len(saved.requests)
    )
    return part, scoped
