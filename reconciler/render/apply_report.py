"""What an apply did, as text: the exact requests of a dry run, and the summary of a real run."""

from __future__ import annotations

import json
from typing import TextIO
from urllib.parse import urlencode

from reconciler.apply.report import NO_LOCK_FOUND, ApplyReport, RequestOutcome
from reconciler.plan.model import Plan, Request, TargetRef

# At most this many target names per summary line; the rest are counted.
MAX_NAMES = 20


def request_line(request: Request) -> str:
    query = f"?{urlencode(request.query)}" if request.query else ""
    body = json.dumps(request.body, ensure_ascii=False, separators=(",", ":"))
    return f"{request.method} {request.path}{query} {body}"


def render_dry_run(plan: Plan, fh: TextIO) -> None:
    fh.write(f"Dry run: {len(plan.requests)} request(s) would be sent; nothing was sent.\n")
    for request in plan.requests:
        fh.write(f"  {request.target.label}: {request_line(request)}\n")


def _names(targets: list[TargetRef]) -> str:
    if not targets:
        return ""
    shown = ", ".join(target.label for target in targets[:MAX_NAMES])
    more = len(targets) - MAX_NAMES
    return f": {shown}" + (f" and {more} more" if more > 0 else "")


def _line(label: str, targets: list[TargetRef], note: str = "") -> str:
    return f"  {label:<12} {len(targets)} target(s){note}{_names(targets)}\n"


def render_report(plan: Plan, report: ApplyReport, fh: TextIO) -> None:
    fh.write("Apply summary\n")
    fh.write(f"  {'applied:':<12} {len(report.targets('applied'))} target(s)\n")
    unchanged = plan.summary.targets_in_sync + len(report.targets("unchanged"))
    fh.write(f"  {'unchanged:':<12} {unchanged} target(s) already in sync\n")
    fh.write(_line("blocked:", report.blocked_targets(), ", never sent"))
    fh.write(_line("stale:", report.targets("stale")))
    fh.write(_line("failed:", report.targets("failed")))
    fh.write(_line("not applied:", report.targets("not_applied")))
    if report.stopped:
        fh.write(_line("skipped:", report.targets_with("skipped"), f" ({report.stopped})"))
    traffic = report.traffic
    fh.write(
        f"  {traffic.requests} request(s), {traffic.retries} retried, "
        f"{traffic.throttled} rate limited (429)\n"
    )
    for outcome in report.outcomes:
        _details(outcome, fh)
    _verdict(report, fh)


def _details(outcome: RequestOutcome, fh: TextIO) -> None:
    request = outcome.request
    where = f"{request.target.label} [{request.option or 'general'}]"
    if outcome.result == "failed":
        fh.write(f"  FAILED {where}: {outcome.error}\n")
    for path in outcome.stale:
        fh.write(f"  STALE {where} {'.'.join(path)}: changed in Zoom since the plan; not sent\n")
    for path in outcome.not_applied:
        fh.write(f"  NOT APPLIED {where} {'.'.join(path)}: {outcome.cause or NO_LOCK_FOUND}\n")


def _verdict(report: ApplyReport, fh: TextIO) -> None:
    if not report.accepted:
        return
    if report.failed or report.stale:
        fh.write(
            "Not converged: a fresh plan would still show the stale, failed, not applied "
            "and skipped changes above.\n"
        )
    else:
        fh.write(
            "Verified: every field sent was read back from Zoom and matches the repo; "
            "a fresh plan of these targets has nothing pending.\n"
        )
