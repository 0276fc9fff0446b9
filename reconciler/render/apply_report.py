"""What an apply did, as text: the exact requests of a dry run, and the summary of a real run."""

from __future__ import annotations

import json
from typing import TextIO
from urllib.parse import urlencode

from reconciler.apply.engine import NOT_APPLIED_CAUSE, ApplyReport
from reconciler.plan.model import Plan, Request, TargetRef


def request_line(request: Request) -> str:
    query = f"?{urlencode(request.query)}" if request.query else ""
    body = json.dumps(request.body, ensure_ascii=False, separators=(",", ":"))
    return f"{request.method} {request.path}{query} {body}"


def render_dry_run(plan: Plan, fh: TextIO) -> None:
    fh.write(f"Dry run: {len(plan.requests)} request(s) would be sent; nothing was sent.\n")
    for request in plan.requests:
        fh.write(f"  {request.target.label}: {request_line(request)}\n")


def _names(targets: list[TargetRef]) -> str:
    return ", ".join(target.label for target in targets) or "-"


def render_report(plan: Plan, report: ApplyReport, fh: TextIO) -> None:
    applied = report.targets("applied")
    failed = report.targets("failed")
    blocked = sorted({c.target for c in report.blocked}, key=TargetRef.sort_key)
    fh.write("Apply summary\n")
    fh.write(f"  applied:     {len(applied)} target(s)\n")
    fh.write(f"  unchanged:   {plan.summary.targets_in_sync} target(s) already in sync\n")
    fh.write(f"  blocked:     {len(blocked)} target(s): {_names(blocked)}\n")
    fh.write(f"  stale:       {len(report.stale_targets())}: {_names(report.stale_targets())}\n")
    fh.write(f"  failed:      {len(failed)}: {_names(failed)}\n")
    fh.write(
        f"  not applied: {len(report.not_applied_targets())}: "
        f"{_names(report.not_applied_targets())}\n"
    )
    for outcome in report.outcomes:
        _details(outcome.request, outcome.error, outcome.stale, outcome.not_applied, fh)
    _verdict(report, fh)


def _details(
    request: Request,
    error: str | None,
    stale: list[tuple[str, ...]],
    missed: list[tuple[str, ...]],
    fh: TextIO,
) -> None:
    where = f"{request.target.label} [{request.option or 'general'}]"
    if error:
        fh.write(f"  FAILED {where}: {error}\n")
    for path in stale:
        fh.write(f"  STALE {where} {'.'.join(path)}: changed in Zoom since the plan; not sent\n")
    for path in missed:
        fh.write(f"  NOT APPLIED {where} {'.'.join(path)}: {NOT_APPLIED_CAUSE}\n")


def _verdict(report: ApplyReport, fh: TextIO) -> None:
    sent = [o for o in report.outcomes if o.result in ("applied", "not_applied")]
    if sent and not report.failed and not report.stale_targets():
        fh.write(
            "Verified: every field sent was read back from Zoom and matches the repo; "
            "a fresh plan of these targets has nothing pending.\n"
        )
    elif sent:
        fh.write(
            "Not converged: a fresh plan of these targets would still show the fields "
            "listed above.\n"
        )
