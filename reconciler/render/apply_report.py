"""What an apply did, as text: the exact requests of a dry run, and the summary of a real run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO
from urllib.parse import urlencode

from reconciler.apply.report import CHANGE_RESULTS, NO_LOCK_FOUND, ApplyReport, ChangeResult
from reconciler.diagnostic import diagnostic_json
from reconciler.escape import printable
from reconciler.plan.model import Change, Plan, Refusal, Request
from reconciler.plan.safety import OVERRIDE_HINT


def request_line(request: Request) -> str:
    query = f"?{urlencode(request.query)}" if request.query else ""
    body = json.dumps(request.body, ensure_ascii=False, separators=(",", ":"))
    return f"{request.method} {request.path}{query} {body}"


def render_dry_run(plan: Plan, fh: TextIO, refusals: Sequence[Refusal] = ()) -> None:
    """The exact requests, then a line for each reason apply would refuse them for."""
    fh.write(f"Dry run: {len(plan.requests)} request(s) would be sent; nothing was sent.\n")
    for request in plan.requests:
        fh.write(f"  {printable(request.target.label)}: {printable(request_line(request))}\n")
    for refusal in refusals:
        fh.write(f"Apply would refuse ({refusal.code}): {printable(refusal.reason)}\n")
    if refusals:
        fh.write(f"{OVERRIDE_HINT}.\n")


def render_dry_run_json(plan: Plan, fh: TextIO, refusals: Sequence[Refusal] = ()) -> None:
    """`apply --dry-run --format json`: an apply report that sent nothing, with the exact requests
    it would send and each reason apply would refuse them for."""
    counted = plan.counted_summary()
    data = {
        "kind": "apply",
        "format_version": REPORT_FORMAT_VERSION,
        "dry_run": True,
        "plan_checksum": plan.to_json()["checksum"],
        "converged": False,
        "summary": {
            "applied": 0,
            "would_send": len(plan.requests),
            "pending": counted.changes_pending,
            "blocked": counted.changes_blocked,
            "not_applied": 0,
            "failed": 0,
        },
        "unknown_targets": counted.unknown_targets,
        "would_refuse": [refusal.to_json() for refusal in refusals],
        "requests": [request.to_json() for request in plan.requests],
        "skipped_files": [diagnostic_json(item) for item in plan.skipped],
    }
    json.dump(data, fh, indent=2, ensure_ascii=False)
    fh.write("\n")


# At most this many BLOCKED changes are named in --fail-on-blocked's reason; the report has all.
SHOWN_BLOCKED = 5


def blocked_reason(plan: Plan) -> str:
    """Why --fail-on-blocked fails the run: the BLOCKED changes, by target and field."""
    blocked = plan.blocked
    shown = "; ".join(_where(change) for change in blocked[:SHOWN_BLOCKED])
    more = len(blocked) - SHOWN_BLOCKED
    shown += f"; and {more} more" if more > 0 else ""
    return f"--fail-on-blocked: {len(blocked)} change(s) are BLOCKED, never sent: {shown}"


APPLY_FORMATS = ("text", "json")
REPORT_FORMAT_VERSION = 1  # of the apply report's JSON
# At most this many per-target lines and detail lines in the text summary; JSON has them all.
MAX_LINES = 50
LABELS: dict[ChangeResult, str] = {
    "applied": "applied",
    "in_sync": "in sync",
    "stale": "stale",
    "blocked": "blocked",
    "not_applied": "not applied",
    "failed": "failed",
    "skipped": "skipped",
}
NOTES: dict[ChangeResult, str] = {
    "applied": ", read back and verified",
    "in_sync": ", already at the desired value",
    "stale": ", changed in Zoom since the plan: not sent",
    "blocked": ", never sent",
    "not_applied": ", sent but Zoom kept the old value",
    "failed": "",
    "skipped": ", not sent",
}


def render_report(plan: Plan, report: ApplyReport, fh: TextIO) -> None:
    """The summary: changes per outcome (each counted once), targets with anything but applied
    (one line each), the details, and whether the run converged, as measured."""
    fh.write("Apply summary\n")
    targets = report.by_target()
    for result, count in report.counts().items():
        on = len({o.change.target for o in report.changes if o.result == result})
        note = NOTES[result] if count else ""
        fh.write(f"  {LABELS[result] + ':':<12} {count} change(s) on {on} target(s){note}\n")
    in_sync = plan.counted_summary().targets_in_sync
    fh.write(f"  {'unchanged:':<12} {in_sync} target(s) had nothing to change\n")
    traffic = report.traffic
    fh.write(
        f"  {traffic.requests} request(s), {traffic.retries} retried, "
        f"{traffic.throttled} rate limited (429)\n"
    )
    mixed = [(t, c) for t, c in targets.items() if set(c) - {"applied", "in_sync"}]
    for target, counts in mixed[:MAX_LINES]:
        fh.write(f"  {printable(target.label)}: {_counts(counts)}\n")
    if len(mixed) > MAX_LINES:
        fh.write(f"  ... and {len(mixed) - MAX_LINES} more target(s) (--format json lists all)\n")
    _details(report, fh)
    _verdict(report, fh)


def _counts(counts: dict[ChangeResult, int]) -> str:
    return ", ".join(f"{counts[r]} {LABELS[r]}" for r in CHANGE_RESULTS if r in counts)


def _where(change: Change) -> str:
    tag = f"locks {change.family}" if change.locks else change.family
    return printable(f"{change.target.label} [{tag}] {'.'.join(change.path)}")


def _details(report: ApplyReport, fh: TextIO) -> None:
    shown = [o for o in report.changes if o.result not in ("applied", "in_sync")]
    for outcome in shown[:MAX_LINES]:
        kind = LABELS[outcome.result].upper()
        detail = printable(outcome.detail or NO_LOCK_FOUND)
        fh.write(f"  {kind} {_where(outcome.change)}: {detail}\n")
    if report.stopped:
        fh.write(f"  Stopped early: {printable(report.stopped)}\n")


def _verdict(report: ApplyReport, fh: TextIO) -> None:
    if all(outcome.result == "blocked" for outcome in report.changes):
        return  # nothing could be sent: the blocked lines say why
    below = (
        f", and {report.rechecked} target(s) below a changed account or group were read again"
        if report.rechecked
        else ""
    )
    if report.converged:
        blocked = report.counts()["blocked"]
        rest = f"{blocked} BLOCKED change(s) were not sent" if blocked else "nothing is pending"
        fh.write(
            "Converged: every change sent was read back from Zoom and matches the repo"
            f"{below}; {rest}.\n"
        )
        return
    fh.write("Not converged:")
    if report.unknown_targets:
        fh.write(
            f" {report.unknown_targets} target(s) could not be read or told apart (UNKNOWN, "
            "above) and were not written;"
        )
    if report.recheck_error:
        fh.write(f" the final read failed ({printable(report.recheck_error)});")
    if report.still_pending:
        moved = len(report.still_pending)
        fh.write(f" {moved} change(s) moved with a change above and are pending:")
        for change in report.still_pending[:MAX_LINES]:
            fh.write(f"\n  PENDING {_where(change)}")
        fh.write("\n")
    else:
        fh.write(" a fresh plan would still show the changes above that did not apply.\n")


def render_report_json(plan: Plan, report: ApplyReport, fh: TextIO, *, run_id: str) -> None:
    data = {
        "kind": "apply",
        "format_version": REPORT_FORMAT_VERSION,
        "run_id": run_id,
        "plan_checksum": plan.to_json()["checksum"],
        "converged": report.converged,
        "summary": report.counts(),
        "targets_in_sync": plan.counted_summary().targets_in_sync,
        "unknown_targets": report.unknown_targets,
        "targets": [
            {"target": target.to_json(), "counts": counts}
            for target, counts in report.by_target().items()
        ],
        "changes": [
            {
                **_change_json(outcome.change),
                "result": outcome.result,
                "detail": outcome.detail,
            }
            for outcome in report.changes
        ],
        "rechecked_targets": report.rechecked,
        "still_pending": [_change_json(change) for change in report.still_pending],
        "recheck_error": report.recheck_error,
        "stopped": report.stopped,
        "traffic": {
            "requests": report.traffic.requests,
            "retried": report.traffic.retries,
            "rate_limited": report.traffic.throttled,
        },
        "skipped_files": [diagnostic_json(item) for item in plan.skipped],
    }
    json.dump(data, fh, indent=2, ensure_ascii=False)
    fh.write("\n")


def _change_json(change: Change) -> dict[str, object]:
    found = change.to_json()
    return {key: found[key] for key in ("target", "option", "path", "locks", "before", "after")}
