"""One plan run on a session: the scope a command asks for, then the plan, bound to its repo."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.fingerprint import fingerprint
from reconciler.desired.git import repo_commit
from reconciler.plan.changed import blocked_before, changed_scope, load_repo_at
from reconciler.plan.engine import build_plan
from reconciler.plan.model import Plan
from reconciler.plan.policies import engine_for
from reconciler.plan.safety import refusals
from reconciler.targets import EVERYTHING, Scope, parse_selectors
from reconciler.vocab import ProgressHook, no_progress


def scope_for(
    state: DesiredState, selectors: Sequence[str] = (), changed_since: str | None = None
) -> Scope:
    """`--target` selectors, else what changed since a git revision, else everything."""
    if selectors:
        return parse_selectors(selectors)
    if changed_since:
        return changed_scope(load_repo_at(state.root, changed_since), state)
    return EVERYTHING


async def make_plan(
    state: DesiredState,
    session: Session,
    scope: Scope = EVERYTHING,
    progress: ProgressHook = no_progress,
) -> Plan:
    plan = await build_plan(
        state,
        session.reader,
        scope,
        workers=session.workers,
        progress=progress,
        engine=engine_for(state),
    )
    plan.repo_commit = repo_commit(state.root)
    plan.repo_path = str(state.root)
    plan.account_id = session.account_id
    plan.created_at = datetime.now(UTC).isoformat(timespec="seconds")
    plan.repo_files = fingerprint(state)
    # What apply will make of it, judged as apply judges (`apply.run.check_safety`).
    plan.refusals = refusals(plan, state.options.safety, plan.weakening)
    if scope.base is not None:
        plan.blocked_before = blocked_before(plan, scope.base, state, session.reader.directory)
    return plan
