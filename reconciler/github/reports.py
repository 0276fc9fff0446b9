"""A run's JSON report, parsed once into typed values: what the workflows branch on.

Every report names its `kind`; a document of a kind this version does not write is refused
(`UnknownReport`, one line). The rest of a report is the tool's own output, yet read as hostile:
a value of the wrong type counts as absent (0, no text), never as a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from reconciler.escape import printable

Kind = Literal["plan", "apply", "audit", "validate"]
KINDS: tuple[Kind, ...] = ("plan", "apply", "audit", "validate")
COUNTS = ("changes", "blocked", "not_applied", "drift", "violations", "unknown")
# What a run that left any of these needs: someone's attention (an issue).
ATTENTION = ("blocked", "not_applied", "drift", "violations", "unknown")


class UnknownReport(ValueError):
    """Not a report of this version of reconciler; the message says what it is instead."""


@dataclass(frozen=True)
class Problem:
    where: str  # file:line:col, as much as is known
    message: str


@dataclass(frozen=True)
class RunError:
    """A failed run's `error` object."""

    code: str
    refused: bool  # exit 3: refused for safety or policy, not failed
    message: str
    reasons: tuple[str, ...]
    problems: tuple[Problem | None, ...]  # None: an entry that was not an object (counted only)
    hint: str | None


@dataclass(frozen=True)
class ChangeLine:
    """One change of an apply report: how it ended, on what, and why."""

    result: str | None  # applied, blocked, not_applied, failed, ...
    where: str  # `user bob@acme.test [meeting_security] waiting_room`
    detail: str | None


@dataclass(frozen=True)
class RunReport:
    kind: Kind
    counts: dict[str, int]  # COUNTS, in order; all 0 for a failed run (but validate's)
    error: RunError | None
    changes: tuple[ChangeLine, ...]  # an apply's; none for the other kinds

    def needs_attention(self, exit_code: int) -> bool:
        if exit_code != 0 or self.error is not None:
            return True
        return any(self.counts[key] for key in ATTENTION)


def parse_report(document: dict[str, Any]) -> RunReport:
    """The report's values; UnknownReport for a document of no kind this version writes."""
    kind = document.get("kind")
    if kind not in KINDS:
        shown = printable(str(kind), 40) if kind is not None else "no kind"
        raise UnknownReport(
            f"a document of {shown}, not a report of this version of reconciler"
            f" (one of {', '.join(KINDS)}); pass the report a command wrote with --format json"
        )
    known = cast(Kind, kind)
    error = _error(document.get("error"))
    counts = dict.fromkeys(COUNTS, 0) if error is not None and known != "validate" else None
    changes = document.get("changes") if known == "apply" else None
    listed = [c for c in changes if isinstance(c, dict)] if isinstance(changes, list) else []
    return RunReport(
        known,
        counts or _counts(known, document),
        error,
        tuple(_change(change) for change in listed),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _counts(kind: Kind, report: dict[str, Any]) -> dict[str, int]:
    """The counts a workflow branches on, by the report's kind."""
    summary = _mapping(report.get("summary"))
    found = dict.fromkeys(COUNTS, 0)
    if kind == "audit":
        by_result = _mapping(summary.get("by_result"))
        found["drift"] = _number(by_result.get("drift"))
        found["violations"] = _number(by_result.get("fail"))
        found["unknown"] = _number(summary.get("unknown_targets"))
    elif kind == "apply":
        found["changes"] = _number(summary.get("applied"))
        found["blocked"] = _number(summary.get("blocked"))
        found["not_applied"] = _number(summary.get("not_applied")) + _number(summary.get("failed"))
        found["unknown"] = _number(report.get("unknown_targets"))
    elif kind == "plan":
        findings = _mapping(report.get("policy")).get("findings")
        findings = findings if isinstance(findings, list) else []
        found["changes"] = _number(summary.get("changes_pending"))
        found["blocked"] = _number(summary.get("changes_blocked"))
        found["violations"] = sum(
            isinstance(f, dict) and f.get("state") == "introduced" for f in findings
        )
        found["unknown"] = _number(summary.get("unknown_targets"))
    else:
        violations = report.get("violations")
        found["violations"] = len(violations) if isinstance(violations, list) else 0
    return found


def _error(found: Any) -> RunError | None:
    if not isinstance(found, dict):
        return None
    reasons = found.get("reasons")
    problems = found.get("problems")
    problems = problems if isinstance(problems, list) else []
    hint = found.get("hint")
    return RunError(
        code=str(found.get("code", "error")),
        refused=found.get("exit_code") == 3,
        message=str(found.get("message", "")),
        reasons=tuple(
            str(item.get("reason", ""))
            for item in (reasons if isinstance(reasons, list) else [])
            if isinstance(item, dict)
        ),
        problems=tuple(_problem(p) if isinstance(p, dict) else None for p in problems),
        hint=str(hint) if hint else None,
    )


def _problem(problem: dict[str, Any]) -> Problem:
    where = ":".join(str(problem[k]) for k in ("file", "line", "col") if problem.get(k) is not None)
    return Problem(where, str(problem.get("message", "")))


def _change(change: dict[str, Any]) -> ChangeLine:
    target = _mapping(change.get("target"))
    who = target.get("email") or target.get("name") or target.get("id") or "?"
    label = "account" if target.get("kind") == "account" else f"{target.get('kind')} {who}"
    path = change.get("path")
    field = ".".join(str(p) for p in path) if isinstance(path, list) else "?"
    option = change.get("option")
    where = f"{label} [{option}] {field}" if option else f"{label} {field}"
    result = change.get("result")
    detail = change.get("detail")
    return ChangeLine(
        result if isinstance(result, str) else None, where, str(detail) if detail else None
    )
