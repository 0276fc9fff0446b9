"""The JSON a `--format json` run writes when it fails: the document kind it would have written
(`plan`, `apply`, `audit`, `validate`) with an `error` object instead of its results, so a
workflow that reads the report (`reconciler github outputs`, `github issue`) always has one.

    {"kind": "apply", "format_version": 1, "error": {"code": "unsafe_plan", "exit_code": 3,
     "message": "...", "hint": "...", "reason": "over_max_changed_targets",
     "reasons": [{"code": ..., "reason": ...}], "file": ..., "line": ..., "problems": [...]}}

`code` is one of `ERROR_CODES`, by the error's class; the message is the one line the command
prints on stderr (never a secret: every error's text is fit for a user).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from reconciler.audit.model import FORMAT_VERSION as AUDIT_FORMAT_VERSION
from reconciler.diagnostic import diagnostic_json, from_problem
from reconciler.errors import (
    AuditLogError,
    AuthError,
    BadAnswer,
    ConfigError,
    CredentialsMissing,
    DailyLimitReached,
    NotFound,
    PlanFileError,
    PlanRefused,
    RateLimited,
    ReconcilerError,
    Refused,
    RunLocked,
    SchemaError,
    Unavailable,
    UnsafePlan,
    ValidationFailed,
    ZoomAPIError,
)
from reconciler.plan.model import FORMAT_VERSION as PLAN_FORMAT_VERSION
from reconciler.plan.safety import OVERRIDE_HINT
from reconciler.render.apply_report import REPORT_FORMAT_VERSION as APPLY_FORMAT_VERSION
from reconciler.render.markdown import escape

VALIDATE_FORMAT_VERSION = 1
# A failed run's report carries the format version of its kind's report.
FORMAT_VERSIONS = {
    "plan": PLAN_FORMAT_VERSION,
    "apply": APPLY_FORMAT_VERSION,
    "audit": AUDIT_FORMAT_VERSION,
    "validate": VALIDATE_FORMAT_VERSION,
}
REPORT_KINDS = tuple(FORMAT_VERSIONS)

# Most specific first: the first class an error is an instance of names its code.
_CODES: tuple[tuple[type[ReconcilerError], str], ...] = (
    (ValidationFailed, "invalid_repo"),
    (CredentialsMissing, "credentials_missing"),
    (PlanFileError, "unreadable_plan"),
    (ConfigError, "bad_input"),
    (SchemaError, "schema_missing"),
    (AuditLogError, "audit_log"),
    (RunLocked, "locked"),
    (UnsafePlan, "unsafe_plan"),
    (PlanRefused, "plan_refused"),
    (Refused, "refused"),
    (AuthError, "zoom_auth"),
    (DailyLimitReached, "zoom_daily_limit"),
    (RateLimited, "zoom_rate_limited"),
    (NotFound, "zoom_not_found"),
    (BadAnswer, "zoom_bad_answer"),
    (Unavailable, "zoom_unavailable"),
    (ZoomAPIError, "zoom_error"),
)
ERROR_CODES = (*(code for _, code in _CODES), "error")


def error_code(error: ReconcilerError) -> str:
    """The report's code for `error` (`error` for one of no more specific class)."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return "error"


def error_json(error: ReconcilerError, exit_code: int) -> dict[str, Any]:
    """The `error` object of a failed run's report."""
    found: dict[str, Any] = {
        "code": error_code(error),
        "exit_code": exit_code,
        "message": str(error),
        "hint": None,
        "reason": None,
        "reasons": [],
        "file": None,
        "line": None,
        "problems": [],
    }
    if isinstance(error, ValidationFailed):
        found["problems"] = [diagnostic_json(from_problem(p)) for p in error.problems]
        found["hint"] = "fix each problem at its file:line, then run `reconciler validate`"
    elif isinstance(error, ConfigError):
        found.update(message=error.message, hint=error.hint, file=error.file, line=error.line)
    if isinstance(error, UnsafePlan):
        found["reasons"] = [{"code": code, "reason": text} for code, text in error.refusals]
        codes = sorted({code for code, _ in error.refusals})
        found["reason"] = codes[0] if len(codes) == 1 else "several" if codes else None
        found["hint"] = OVERRIDE_HINT
    elif isinstance(error, PlanRefused):
        found.update(reason=error.reason, file=error.file, message=error.message)
        found["hint"] = "plan again, review the new plan, and apply that"
    elif isinstance(error, RunLocked):
        found.update(reason="locked", hint="wait for the other apply, or pass --lock-timeout")
    elif isinstance(error, DailyLimitReached) and error.resets_at:
        found["hint"] = f"Zoom's daily limit resets at {error.resets_at}; run again after it"
    elif isinstance(error, AuthError):
        found["hint"] = (
            "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET and the app's scopes"
        )
    elif isinstance(error, Refused):
        found["reason"] = "refused"
    return found


def failure_document(kind: str, error: ReconcilerError, exit_code: int) -> dict[str, Any]:
    """A failed run's report of `kind` (one of REPORT_KINDS)."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    version = FORMAT_VERSIONS[kind]
    return {"kind": kind, "format_version": version, "error": error_json(error, exit_code)}


def write_failure(kind: str, error: ReconcilerError, exit_code: int, fh: TextIO) -> None:
    json.dump(failure_document(kind, error, exit_code), fh, indent=2, ensure_ascii=False)
    fh.write("\n")


def write_failure_markdown(kind: str, error: ReconcilerError, exit_code: int, fh: TextIO) -> None:
    """The failed run as the PR comment's Markdown: what failed and what to do, so the comment
    of a plan that could not be made says so instead of being empty."""
    found = error_json(error, exit_code)
    fh.write(f"### reconciler {kind}: failed (exit {exit_code})\n\n")
    fh.write(f"**{found['code']}**: {escape(found['message'])}\n")
    for problem in found["problems"][:MARKDOWN_PROBLEMS]:
        where = ":".join(str(problem[k]) for k in ("file", "line", "col") if problem[k] is not None)
        fh.write(f"- {escape(where + ': ' if where else '')}{escape(problem['message'])}\n")
    more = len(found["problems"]) - MARKDOWN_PROBLEMS
    if more > 0:
        fh.write(f"- and {more} more (run `reconciler validate`)\n")
    for item in found["reasons"]:
        fh.write(f"- {escape(item['reason'])}\n")
    if found["hint"]:
        fh.write(f"\nWhat to do: {escape(found['hint'])}\n")


MARKDOWN_PROBLEMS = 20
