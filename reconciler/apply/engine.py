"""Send a plan's requests, target by target: compare-and-set, PATCH, verify, audit log.

Order: the account, then groups, then users, so that lock changes above land before the user
changes that depend on them. A target's requests go one after another (Zoom refuses concurrent
updates to one user); targets run in parallel under the client's pacer.

- Only planned fields: a request may carry only fields that are pending changes of the plan;
  a plan that breaks this (so could send a BLOCKED change) is refused before anything is sent.
- Compare-and-set (saved plans): the family is re-read before its PATCH; a field whose live value
  is neither the plan's `before` nor its `after` is STALE and left out of the body, and one that
  already holds `after` needs nothing (a resumed run does not redo what a killed run did).
- Verify: after each PATCH the family is read again; a sent field that did not take is NOT APPLIED.
- Audit log: a line before each PATCH goes out (so a run killed at any point leaves a record of
  every write that may have happened) and a line with its verified result (or why nothing was
  sent), each on disk before the target's next request.
"""

from __future__ import annotations

from typing import Any

from reconciler.apply.audit_log import AuditLog
from reconciler.apply.bodies import action_option, option_fields
from reconciler.apply.diagnose import LockFinder
from reconciler.apply.report import (
    ApplyReport,
    ChangeOutcome,
    RequestOutcome,
    field_result,
)
from reconciler.desired.state import nest
from reconciler.diff import MISSING, LeafChange, lookup, strictly_equal
from reconciler.errors import (
    AuditLogError,
    DailyLimitReached,
    PlanRefused,
    ReconcilerError,
)
from reconciler.live import LiveDoc, LiveReader, Unreadable
from reconciler.plan.model import Change, Plan, Request, Status, Writes
from reconciler.shapes import lock_zoom_shape, patch_bodies, unsendable
from reconciler.targets import TargetRef
from reconciler.vocab import Family, LeafPath, ProgressHook, lock_family_of
from reconciler.zoom import map_concurrently

ChangeKey = tuple[TargetRef, Family, Writes, LeafPath]


def change_key(change: Change) -> ChangeKey:
    return change.target, change.family, change.writes, change.path


def field_key(request: Request, path: LeafPath) -> ChangeKey:
    return request.target, request.family, request.writes, path


def pending_changes(plan: Plan) -> dict[ChangeKey, Change]:
    """The plan's pending changes by key; raises if a request carries anything else."""
    pending = {change_key(change): change for change in plan.pending}
    for request in plan.requests:
        for path in request.fields:
            if field_key(request, path) not in pending:
                raise PlanRefused(
                    f"the plan's request {request.method} {request.path} carries "
                    f"{'.'.join(path)}, which is not a pending change: it was edited; plan again"
                )
    return pending


class Applier:
    def __init__(
        self,
        plan: Plan,
        reader: LiveReader,
        audit: AuditLog,
        *,
        compare_and_set: bool,
        fail_fast: bool = False,
        progress: ProgressHook | None = None,
    ) -> None:
        self.plan = plan
        self.reader = reader
        self.zoom = reader.zoom
        self.audit = audit
        self.compare_and_set = compare_and_set
        self.fail_fast = fail_fast
        self.progress = progress or (lambda _done, _total: None)
        self._changes = pending_changes(plan)
        self.stopped: str | None = None
        self.locks = LockFinder(reader)

    # -- reading one family ------------------------------------------------------------------

    async def _read(self, request: Request) -> LiveDoc:
        """The family as Zoom has it now, in the repo's shape (as the plan's `before` and
        `after` are); a failed read fails the request."""
        target = request.target
        if request.locks:
            lock_family = lock_family_of(request.family)
            live = await self.reader.read_locks(target.kind, target.id, lock_family)
        else:
            live = await self.reader.read(target.kind, target.id, request.family)
        if isinstance(live, Unreadable):
            raise live.error
        return live

    def _change(self, request: Request, path: LeafPath) -> Change:
        return self._changes[field_key(request, path)]

    def _holds(self, live: dict[str, Any], request: Request, path: LeafPath, side: str) -> bool:
        return strictly_equal(lookup(live, path), getattr(self._change(request, path), side))

    # -- one request ------------------------------------------------------------------------

    async def apply_request(self, request: Request) -> RequestOutcome:
        if self.stopped is not None:
            return RequestOutcome(request, "skipped", error=self.stopped)
        outcome = RequestOutcome(request, "failed")
        try:
            await self._apply(outcome)
        except AuditLogError as error:
            # Nothing more may be sent without its line: every later request is skipped.
            outcome.error = self.stopped = str(error)
        except DailyLimitReached as error:
            # The client raises the first such error again for every later request: its method
            # and path name another request, so only its message is this request's story.
            outcome.error = self.stopped = error.message
            self._log(outcome)
        except ReconcilerError as error:
            outcome.error = str(error)
            self._log(outcome)
        return outcome

    async def _apply(self, outcome: RequestOutcome) -> None:
        request = outcome.request
        if self.compare_and_set:
            live = await self._read(request)
            self._compare(outcome, live)
            outcome.body = self._rebuild(outcome, live.option_ids)
        else:
            outcome.body = request.body  # built from the changes by this run's planner
        left_out = {*outcome.stale, *outcome.already}
        if outcome.body is None:
            outcome.result = "stale" if outcome.stale else "unchanged"
            self._log(outcome)
            return
        self._log(outcome, "sending")
        await self.zoom.request(
            request.method, request.path, params=request.query or None, json=outcome.body
        )
        outcome.accepted = True
        self._verify(outcome, (await self._read(request)).values, left_out)
        if outcome.not_applied:
            outcome.cause = await self.locks.cause(request, outcome.not_applied)
        self._log(outcome)

    def _compare(self, outcome: RequestOutcome, live: LiveDoc) -> None:
        """Compare-and-set: sort the fields that must not be sent into stale and already."""
        request, shaped = outcome.request, live.values
        replaced = _replaced_option(request, live.option_ids)
        for path in request.fields:
            if path in replaced:
                outcome.stale.append(path)
            elif self._holds(shaped, request, path, "after"):
                outcome.already.append(path)
            elif not self._holds(shaped, request, path, "before"):
                outcome.stale.append(path)

    def _rebuild(self, outcome: RequestOutcome, ids: dict[str, str]) -> dict[str, Any] | None:
        """The body for the fields still to send, built from the plan's changes (never taken
        from the plan file) with the option ids Zoom has now; None when nothing is left.

        A field that cannot go without one left out (an option's `add` without its `type`, an
        old default without the new one) is stale with it.
        """
        request = outcome.request
        left_out = {*outcome.stale, *outcome.already}
        remaining = [self._leaf(request, path) for path in request.fields if path not in left_out]
        if not remaining:
            return None
        if request.locks:
            lock_family = lock_family_of(request.family)
            return lock_zoom_shape(lock_family, nest({c.path: c.after for c in remaining}))
        refused = unsendable(request.level, request.family, remaining, ids)
        outcome.stale += [change.path for change in remaining if change.path in refused]
        remaining = [change for change in remaining if change.path not in refused]
        bodies = patch_bodies(request.level, request.family, remaining, ids)
        if not bodies:
            return None
        if len(bodies) > 1 or set(bodies[0].fields) != {c.path for c in remaining}:
            raise PlanRefused(
                f"the plan's request for {request.target.label} [{request.family}] groups "
                "fields that no single PATCH carries: plan again"
            )
        return bodies[0].body

    def _leaf(self, request: Request, path: LeafPath) -> LeafChange:
        change = self._change(request, path)
        return LeafChange(path, change.before, change.after)

    def _verify(
        self, outcome: RequestOutcome, live: dict[str, Any], left_out: set[LeafPath]
    ) -> None:
        request = outcome.request
        sent = [path for path in request.fields if path not in left_out]
        outcome.not_applied = [p for p in sent if not self._holds(live, request, p, "after")]
        if outcome.not_applied:
            outcome.result = "not_applied"
        else:
            outcome.result = "stale" if outcome.stale else "applied"

    # -- the audit log ----------------------------------------------------------------------

    def _log(self, outcome: RequestOutcome, result: str | None = None) -> None:
        request, result = outcome.request, result or outcome.result
        self.audit.write(
            {
                "target": {k: v for k, v in vars(request.target).items() if v is not None},
                "family": request.family,
                "locks": request.locks,
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "fields": [self._field_record(outcome, path, result) for path in request.fields],
                "body": outcome.body,
                "result": result,
                "error": outcome.error,
                "cause": outcome.cause,
            }
        )

    def _field_record(self, outcome: RequestOutcome, path: LeafPath, result: str) -> dict[str, Any]:
        change = self._change(outcome.request, path)
        return {
            "path": list(path),
            "before": None if change.before is MISSING else change.before,
            "after": change.after,
            "status": _field_status(outcome, path, result),
        }

    # -- the whole plan -----------------------------------------------------------------------

    async def apply_target(self, requests: list[Request]) -> list[RequestOutcome]:
        outcomes = []
        for request in requests:
            outcome = await self.apply_request(request)
            outcomes.append(outcome)
            if self.fail_fast and outcome.result in ("failed", "not_applied"):
                self.stopped = self.stopped or (
                    f"stopped by --fail-fast after {request.target.label} "
                    f"[{request.family}] {outcome.result.replace('_', ' ')}"
                )
        return outcomes

    async def run(self, workers: int) -> ApplyReport:
        unknown = len({entry.target for entry in self.plan.unknown})
        report = ApplyReport(blocked=self.plan.blocked, unknown_targets=unknown)
        phases = _phases(self.plan.requests)
        total, done = sum(len(phase) for phase in phases), 0
        for phase in phases:
            async for outcome in map_concurrently(self.apply_target, phase, workers=workers):
                if outcome.error is not None:  # apply_request catches every ReconcilerError
                    raise outcome.error  # pragma: no cover
                report.outcomes += outcome.result or []
                done += 1
                self.progress(done, total)
        report.outcomes.sort(key=lambda o: o.request.target.sort_key())
        report.stopped = self.stopped
        report.changes = self._change_outcomes(report.outcomes)
        return report

    def _change_outcomes(self, outcomes: list[RequestOutcome]) -> list[ChangeOutcome]:
        """One outcome per change of the plan, in plan order."""
        found: dict[ChangeKey, ChangeOutcome] = {}
        for outcome in outcomes:
            for path in outcome.request.fields:
                result, detail = field_result(outcome, path)
                change = self._change(outcome.request, path)
                found[change_key(change)] = ChangeOutcome(change, result, detail)
        listed = []
        for change in self.plan.changes:
            if change.status is Status.BLOCKED:
                listed.append(ChangeOutcome(change, "blocked", change.reason))
            else:
                missing = ChangeOutcome(change, "skipped", "no request of the plan carries it")
                listed.append(found.get(change_key(change), missing))
        return listed


def _replaced_option(request: Request, ids: dict[str, str]) -> set[LeafPath]:
    """The option fields of a request whose action names an option id that Zoom no longer has
    under that name (deleted, re-created or renamed since the plan): all of them are stale."""
    named = action_option(request)
    if named is None or ids.get(named[0]) == named[1]:
        return set()
    return option_fields(request)


def _field_status(outcome: RequestOutcome, path: LeafPath, result: str) -> str:
    """What became of one field, as the audit log says it."""
    if path in outcome.stale:
        return "stale"
    if path in outcome.already:
        return "already"
    if path in outcome.not_applied:
        return "not_applied"
    if result in ("sending", "applied", "stale", "not_applied"):
        return "sending" if result == "sending" else "applied"
    return "sent" if outcome.accepted else result  # failed after or before Zoom accepted it


def _phases(requests: list[Request]) -> list[list[list[Request]]]:
    """Requests grouped by target (order kept), in three phases: account, groups, users."""
    by_target: dict[TargetRef, list[Request]] = {}
    for request in requests:
        by_target.setdefault(request.target, []).append(request)
    phases: dict[str, list[list[Request]]] = {"account": [], "group": [], "user": []}
    for target, grouped in by_target.items():
        phases[target.kind].append(grouped)
    return [phase for phase in phases.values() if phase]
