"""What an apply run did: one outcome per request, and a verdict per target for the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reconciler.plan.model import Change, Request
from reconciler.targets import TargetRef
from reconciler.vocab import LeafPath

if TYPE_CHECKING:
    from reconciler.zoom.client import ClientCounters

# The cause of a NOT APPLIED field when no lock in Zoom explains it.
NO_LOCK_FOUND = (
    "Zoom answered 204 but kept the old value, and no account or group lock covers it: most "
    "likely a feature the user's licence or plan lacks"
)

# What became of one request, worst first (a target's verdict is its worst request's).
Result = Literal["failed", "not_applied", "skipped", "stale", "applied", "unchanged"]
RESULTS_WORST_FIRST: tuple[Result, ...] = (
    "failed",
    "not_applied",
    "skipped",
    "stale",
    "applied",
    "unchanged",
)


@dataclass
class RequestOutcome:
    """One request's fate. `body` is what was (to be) sent, None when nothing was left to send;
    `accepted` says Zoom answered the PATCH with success.

    `stale`: fields whose live value moved away from the plan's `before` (not sent);
    `already`: fields found at the desired value already (not sent, nothing to do);
    `not_applied`: sent fields that Zoom did not keep.
    """

    request: Request
    result: Result
    body: dict[str, Any] | None = None
    accepted: bool = False
    stale: list[LeafPath] = field(default_factory=list)
    already: list[LeafPath] = field(default_factory=list)
    not_applied: list[LeafPath] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None  # why the not-applied fields did not take, as far as Zoom tells


# What became of one change: each change has exactly one.
ChangeResult = Literal["applied", "in_sync", "stale", "blocked", "not_applied", "failed", "skipped"]
CHANGE_RESULTS: tuple[ChangeResult, ...] = (
    "applied",
    "in_sync",
    "stale",
    "blocked",
    "not_applied",
    "failed",
    "skipped",
)


@dataclass(frozen=True)
class ChangeOutcome:
    change: Change
    result: ChangeResult
    detail: str | None = None  # the error, the cause of NOT APPLIED, or why it was skipped


def field_result(outcome: RequestOutcome, path: LeafPath) -> tuple[ChangeResult, str | None]:
    """What became of one field of a request."""
    if path in outcome.stale:
        return "stale", "changed in Zoom since the plan; not sent"
    if path in outcome.already:
        return "in_sync", None
    if path in outcome.not_applied:
        return "not_applied", outcome.cause or NO_LOCK_FOUND
    if outcome.result in ("failed", "skipped"):
        return outcome.result, outcome.error
    return "applied", None


@dataclass(frozen=True)
class Traffic:
    """What the client did during the run: every request it sent (token, reads, writes,
    read-backs, the final re-check), the retries among them, and the 429s it met."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0

    @classmethod
    def of(cls, counters: ClientCounters) -> Traffic:
        return cls(counters.requests, counters.retries, counters.throttled)


@dataclass
class ApplyReport:
    outcomes: list[RequestOutcome] = field(default_factory=list)
    blocked: list[Change] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before the end (--fail-fast, daily limit)
    traffic: Traffic = Traffic()
    # One outcome per change of the plan, in plan order.
    changes: list[ChangeOutcome] = field(default_factory=list)
    # The final check: targets read again that could have moved with a change above them,
    # and what a plan of them still finds pending (empty when they converged).
    rechecked: int = 0
    still_pending: list[Change] = field(default_factory=list)
    recheck_error: str | None = None
    # Targets the plan could not read (or tell apart): never written, so never converged.
    unknown_targets: int = 0

    @classmethod
    def nothing_sent(cls, blocked: list[Change], traffic: Traffic) -> ApplyReport:
        """The report of a plan with nothing to send: only its blocked changes, and the
        requests that made the plan."""
        return cls(
            blocked=blocked,
            traffic=traffic,
            changes=[ChangeOutcome(change, "blocked", change.reason) for change in blocked],
        )

    def counts(self) -> dict[ChangeResult, int]:
        found = dict.fromkeys(CHANGE_RESULTS, 0)
        for outcome in self.changes:
            found[outcome.result] += 1
        return found

    def by_target(self) -> dict[TargetRef, dict[ChangeResult, int]]:
        """Per target, how many of its changes had each result (only the results it had)."""
        found: dict[TargetRef, dict[ChangeResult, int]] = {}
        for outcome in self.changes:
            counts = found.setdefault(outcome.change.target, {})
            counts[outcome.result] = counts.get(outcome.result, 0) + 1
        return found

    @property
    def converged(self) -> bool:
        """Every change that could be sent was applied and verified, and nothing that could
        have moved with it is pending: measured, from what was read back."""
        counts = self.counts()
        unfinished: tuple[ChangeResult, ...] = ("stale", "not_applied", "failed", "skipped")
        return (
            not any(counts[result] for result in unfinished)
            and not self.still_pending
            and self.recheck_error is None
            and not self.unknown_targets
        )

    def verdicts(self) -> dict[TargetRef, Result]:
        """Each target's worst request result."""
        rank = {result: index for index, result in enumerate(RESULTS_WORST_FIRST)}
        worst: dict[TargetRef, Result] = {}
        for outcome in self.outcomes:
            target, result = outcome.request.target, outcome.result
            if target not in worst or rank[result] < rank[worst[target]]:
                worst[target] = result
        return worst

    def targets(self, result: Result) -> list[TargetRef]:
        found = [target for target, verdict in self.verdicts().items() if verdict == result]
        return sorted(found, key=TargetRef.sort_key)

    def targets_with(self, result: Result) -> list[TargetRef]:
        """Targets with at least one request of this result (whatever their verdict)."""
        found = {o.request.target for o in self.outcomes if o.result == result}
        return sorted(found, key=TargetRef.sort_key)

    @property
    def failed(self) -> bool:
        """Something went wrong: a failed request, a write that did not stick, or an early stop."""
        return self.stopped is not None or any(
            o.result in ("failed", "not_applied") for o in self.outcomes
        )

    @property
    def stale(self) -> bool:
        return any(outcome.stale for outcome in self.outcomes)

    @property
    def accepted(self) -> int:
        return sum(outcome.accepted for outcome in self.outcomes)
