"""One plan run, from a settings repo path to a Plan: load, scope, connect, build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.connect import connect
from reconciler.desired import DesiredState, load_repo
from reconciler.plan.changed import changed_scope, load_repo_at, repo_commit
from reconciler.plan.engine import ProgressHook, build_plan
from reconciler.plan.model import Plan
from reconciler.plan.scope import EVERYTHING, Scope, parse_selectors
from reconciler.zoom.client import default_in_flight
from reconciler.zoom.config import rate_for


@dataclass(frozen=True)
class PlanRequest:
    repo: Path
    sandbox: bool = False
    selectors: Sequence[str] = ()
    changed_since: str | None = None
    rate: float | None = None
    paced: bool = True
    workers: int | None = None


def scope_for(request: PlanRequest, state: DesiredState) -> Scope:
    if request.selectors:
        return parse_selectors(request.selectors)
    if request.changed_since:
        return changed_scope(load_repo_at(request.repo, request.changed_since), state)
    return EVERYTHING


async def make_plan(
    request: PlanRequest,
    progress: ProgressHook | None = None,
    state: DesiredState | None = None,
) -> Plan:
    state = state or load_repo(request.repo)
    scope = scope_for(request, state)
    tier = state.options.rate_tier
    pace = rate_for(tier, request.rate) if request.paced else None
    workers = request.workers or default_in_flight(pace)
    async with connect(
        request.repo, sandbox=request.sandbox, tier=tier, rate=request.rate, paced=request.paced
    ) as zoom:
        plan = await build_plan(state, zoom, scope, workers=workers, progress=progress)
    plan.repo_commit = repo_commit(request.repo)
    plan.repo_path = str(request.repo)
    return plan
