"""Send a plan's requests, target by target: compare-and-set, PATCH, verify.

Order: the account, then groups, then users, so that lock changes above land before the user
changes that depend on them. A target's requests go one after another (Zoom refuses concurrent
updates to one user); targets run in parallel under the client's pacer.

- Compare-and-set (saved plans): the family is re-read before its PATCH; a field whose live value
  is no longer the plan's `before` is STALE and left out of the body.
- Verify: after each PATCH the family is read again; a sent field that did not take is NOT APPLIED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.apply.audit_log import AuditLog
from reconciler.errors import DailyLimitReached, ReconcilerError
from reconciler.plan.diff import MISSING, lookup, strictly_equal
from reconciler.plan.locks import lock_repo_shape
from reconciler.plan.model import Change, Plan, Request, TargetRef
from reconciler.plan.shapes import repo_shape
from reconciler.schemas import Family, LockFamily
from reconciler.zoom import ZoomClient, map_concurrently

LeafPath = tuple[str, ...]
Result = Literal["applied", "not_applied", "stale", "failed", "skipped"]
ProgressHook = Callable[[int, int], None]
NOT_APPLIED_CAUSE = (
    "Zoom answered 204 but kept the old value: most likely locked at the account or group level, "
    "or a feature the user's licence or plan lacks"
)


@dataclass
class RequestOutcome:
    request: Request
    result: Result
    stale: list[LeafPath] = field(default_factory=list)
    not_applied: list[LeafPath] = field(default_factory=list)
    error: str | None = None


@dataclass
class ApplyReport:
    outcomes: list[RequestOutcome] = field(default_factory=list)
    blocked: list[Change] = field(default_factory=list)

    def targets(self, result: Result) -> list[TargetRef]:
        found = {o.request.target for o in self.outcomes if o.result == result}
        return sorted(found, key=TargetRef.sort_key)

    def stale_targets(self) -> list[TargetRef]:
        found = {o.request.target for o in self.outcomes if o.stale}
        return sorted(found, key=TargetRef.sort_key)

    def not_applied_targets(self) -> list[TargetRef]:
        found = {o.request.target for o in self.outcomes if o.not_applied}
        return sorted(found, key=TargetRef.sort_key)

    @property
    def failed(self) -> bool:
        return any(o.result == "failed" or o.not_applied for o in self.outcomes)


class Applier:
    def __init__(
        self,
        plan: Plan,
        zoom: ZoomClient,
        audit: AuditLog,
        *,
        compare_and_set: bool,
        fail_fast: bool = False,
        progress: ProgressHook | None = None,
    ) -> None:
        self.plan = plan
        self.zoom = zoom
        self.audit = audit
        self.compare_and_set = compare_and_set
        self.fail_fast = fail_fast
        self.progress = progress or (lambda _done, _total: None)
        self._before = {(c.target, c.option, c.locks, c.path): c.before for c in plan.changes}
        self._stop = False

    # -- reading one family, in the repo's shape ---------------------------------------------

    async def _read(self, request: Request) -> dict[str, Any]:
        live = await self.zoom.get_json(request.path, request.query or None)
        option = request.option
        if request.path.endswith("/lock_settings"):
            lock_family: LockFamily = "meeting_security" if option else "general"
            return lock_repo_shape(lock_family, live)
        family: Family = option or "general"  # type: ignore[assignment]
        return repo_shape(family, live)

    def _is_lock(self, request: Request) -> bool:
        return request.path.endswith("/lock_settings")

    def _planned_before(self, request: Request, path: LeafPath) -> Any:
        key = (request.target, request.option, self._is_lock(request), path)
        return self._before.get(key, MISSING)

    def _after(self, request: Request, path: LeafPath) -> Any:
        for change in self.plan.changes:
            if (change.target, change.option, change.path) == (
                request.target,
                request.option,
                path,
            ) and change.locks == self._is_lock(request):
                return change.after
        return MISSING

    # -- one request ----------------------------------------------------------------------------

    async def apply_request(self, request: Request) -> RequestOutcome:
        try:
            return await self._apply(request)
        except DailyLimitReached:
            raise
        except ReconcilerError as error:
            outcome = RequestOutcome(request, "failed", error=str(error))
            self._log(outcome)
            return outcome

    async def _apply(self, request: Request) -> RequestOutcome:
        fields = list(request.fields)
        stale: list[LeafPath] = []
        if self.compare_and_set:
            live = await self._read(request)
            stale = [p for p in fields if not self._unchanged_since_plan(request, live, p)]
        body = _without(request, stale)
        if body is None:
            outcome = RequestOutcome(request, "stale", stale=stale)
            self._log(outcome)
            return outcome
        await self.zoom.request(
            request.method, request.path, params=request.query or None, json=body
        )
        sent = [p for p in fields if p not in stale]
        after = await self._read(request)
        missed = [p for p in sent if not strictly_equal(lookup(after, p), self._after(request, p))]
        result: Result = "not_applied" if missed else "applied"
        outcome = RequestOutcome(request, result, stale=stale, not_applied=missed)
        self._log(outcome, sent_body=body)
        return outcome

    def _unchanged_since_plan(self, request: Request, live: dict[str, Any], path: LeafPath) -> bool:
        return strictly_equal(lookup(live, path), self._planned_before(request, path))

    def _log(self, outcome: RequestOutcome, sent_body: dict[str, Any] | None = None) -> None:
        request = outcome.request
        self.audit.write(
            {
                "target": {k: v for k, v in vars(request.target).items() if v is not None},
                "option": request.option,
                "method": request.method,
                "path": request.path,
                "fields": [
                    {
                        "path": list(p),
                        "before": _jsonable(self._planned_before(request, p)),
                        "after": _jsonable(self._after(request, p)),
                    }
                    for p in request.fields
                ],
                "body": sent_body,
                "result": outcome.result,
                "stale": [list(p) for p in outcome.stale],
                "not_applied": [list(p) for p in outcome.not_applied],
                "error": outcome.error,
            }
        )

    # -- the whole plan -------------------------------------------------------------------------

    async def apply_target(self, requests: list[Request]) -> list[RequestOutcome]:
        outcomes = []
        for request in requests:
            if self._stop:
                outcomes.append(RequestOutcome(request, "skipped", error="stopped (--fail-fast)"))
                continue
            outcome = await self.apply_request(request)
            outcomes.append(outcome)
            if self.fail_fast and (outcome.result == "failed" or outcome.not_applied):
                self._stop = True
        return outcomes

    async def run(self, workers: int) -> ApplyReport:
        report = ApplyReport(blocked=self.plan.blocked)
        phases = _phases(self.plan.requests)
        total, done = sum(len(p) for p in phases), 0
        for phase in phases:
            async for outcome in map_concurrently(self.apply_target, phase, workers=workers):
                if outcome.error is not None:
                    raise outcome.error
                report.outcomes += outcome.result or []
                done += 1
                self.progress(done, total)
        report.outcomes.sort(key=lambda o: o.request.target.sort_key())
        return report


def _phases(requests: list[Request]) -> list[list[list[Request]]]:
    """Requests grouped by target (order kept), in three phases: account, groups, users."""
    by_target: dict[TargetRef, list[Request]] = {}
    for request in requests:
        by_target.setdefault(request.target, []).append(request)
    phases: dict[str, list[list[Request]]] = {"account": [], "group": [], "user": []}
    for target, grouped in by_target.items():
        phases[target.kind].append(grouped)
    return [phase for phase in phases.values() if phase]


def _without(request: Request, stale: list[LeafPath]) -> dict[str, Any] | None:
    """The body minus the stale fields; None when nothing is left to send."""
    if not stale:
        return request.body
    if len(stale) == len(request.fields):
        return None
    if "authentication_option" in request.body:
        return None  # one option action: all or nothing
    body: dict[str, Any] = _copy(request.body)
    wrapped = "meeting_security" in body and request.option == "meeting_security"
    root = body["meeting_security"] if wrapped else body
    for path in stale:
        _remove(root, path)
    return body


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _remove(node: dict[str, Any], path: LeafPath) -> None:
    parents = [node]
    for key in path[:-1]:
        node = node.get(key, {})
        parents.append(node)
    node.pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if not parents[depth]:
            parents[depth - 1].pop(path[depth - 1], None)


def _jsonable(value: Any) -> Any:
    return None if value is MISSING else value
