"""Exit codes: one contract for every command, and the one place that picks each command's code.

0 done or nothing to change; 1 error (bad input, API failure, a target that could not be read);
2 changes pending or drift found; 3 refused for safety or policy.
"""

from __future__ import annotations

from enum import IntEnum

from reconciler.apply.report import ApplyReport
from reconciler.apply.run import ApplyOutcome
from reconciler.audit.model import AuditResult, FindingStatus
from reconciler.plan.explain import Explanation
from reconciler.plan.model import Plan
from reconciler.validate import Validation


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    REFUSED = 3


def for_validate(problems: int, violations: int = 0) -> ExitCode:
    """Problems in the files are errors; a policy violation the repo asks for is refused."""
    if problems:
        return ExitCode.ERROR
    return ExitCode.REFUSED if violations else ExitCode.OK


def for_validation(found: Validation) -> ExitCode:
    problems = len(found.failed.problems) if found.failed is not None else 0
    return for_validate(problems, len(found.violations))


def for_plan(plan: Plan, *, detailed: bool, strict: bool = False) -> ExitCode:
    """An unknown target is an error (and with `--strict` a skipped file); with
    `--detailed-exitcode`: 3 for BLOCKED changes (with `--changed-since`, those the change under
    review brings), a policy violation the plan introduces, or anything apply would refuse the
    plan for without --force; else pending 2.
    """
    if plan.unknown or (strict and plan.skipped):
        return ExitCode.ERROR
    if not detailed:
        return ExitCode.OK
    if plan.blocked_introduced or plan.introduced or plan.refusals:
        return ExitCode.REFUSED
    return ExitCode.CHANGES if plan.pending else ExitCode.OK


def for_apply(
    plan: Plan, report: ApplyReport, *, fail_on_blocked: bool = False, strict: bool = False
) -> ExitCode:
    """0 when every change that could be sent was applied, verified and nothing moved; BLOCKED
    changes are the repo's to fix (the PR plan catches them), so they fail only when asked."""
    counts = report.counts()
    unfinished = counts["failed"] or counts["not_applied"] or counts["skipped"]
    if plan.unknown or report.stopped or unfinished or (strict and plan.skipped):
        return ExitCode.ERROR
    if report.still_pending or report.recheck_error:
        return ExitCode.ERROR
    if counts["stale"] or (fail_on_blocked and plan.blocked):
        return ExitCode.REFUSED
    return ExitCode.OK


def for_outcome(
    outcome: ApplyOutcome, *, fail_on_blocked: bool = False, strict: bool = False
) -> ExitCode:
    """`apply`'s code: a dry run's is its plan's (no --detailed-exitcode), a run cancelled at the
    confirmation is refused, else the report's (`for_apply`)."""
    if outcome.cancelled:
        return ExitCode.REFUSED
    if outcome.report is None:
        return for_plan(outcome.plan, detailed=False, strict=strict)
    return for_apply(outcome.plan, outcome.report, fail_on_blocked=fail_on_blocked, strict=strict)


def for_explain(found: Explanation) -> ExitCode:
    return ExitCode.ERROR if found.live_error else ExitCode.OK


def for_audit(result: AuditResult, *, allow_unknown: bool = False) -> ExitCode:
    """1 when a target or a rule could not be judged (unless allowed: then it does not fail);
    2 for drift or a failing rule that no unexpired acknowledgement accepts; else 0."""
    statuses = result.statuses()
    if FindingStatus.UNKNOWN in statuses and not allow_unknown:
        return ExitCode.ERROR
    if FindingStatus.FAIL in statuses or FindingStatus.DRIFT in statuses:
        return ExitCode.CHANGES
    return ExitCode.OK
