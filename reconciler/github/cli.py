"""`reconciler github ...`: the glue the workflows run, so every team does not write it again.

- `comment FILE --marker NAME`: one sticky comment on the pull request, updated in place;
- `issue --marker NAME --report FILE --exit-code N`: open or update the flow's issue when the run
  needs attention (it failed, or left BLOCKED, NOT APPLIED, drift or failing rules), close it when
  a later run is clean;
- `outputs FILE --exit-code N`: the step outputs of a run (exit code, counts) for `$GITHUB_OUTPUT`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler.errors import ReconcilerError
from reconciler.escape import printable
from reconciler.github.api import Context, GitHub

_REPORT_LIMIT = 64 * 1024 * 1024


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    raise SystemExit(1)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > _REPORT_LIMIT:
            _fail(f"{path}: over {_REPORT_LIMIT} bytes; not a report of this tool")
        found = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"{path}: cannot read it: {error.strerror or error}")
    except ValueError:
        _fail(f"{path}: not JSON; pass the report the command wrote with --format json")
    if not isinstance(found, dict):
        _fail(f"{path}: not a report of this tool")
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def counts(report: dict[str, Any]) -> dict[str, int]:
    """The counts a workflow branches on, from a plan, apply or audit JSON report."""
    summary = _mapping(report.get("summary"))
    number = _number
    if "rules" in report and "findings" in report:  # audit
        by_result = _mapping(summary.get("by_result"))
        return {
            "changes": 0,
            "blocked": 0,
            "not_applied": 0,
            "drift": number(by_result.get("drift")),
            "violations": number(by_result.get("fail")),
            "unknown": number(summary.get("unknown_targets")),
        }
    if "converged" in report:  # apply
        return {
            "changes": number(summary.get("applied")),
            "blocked": number(summary.get("blocked")),
            "not_applied": number(summary.get("not_applied")) + number(summary.get("failed")),
            "drift": 0,
            "violations": 0,
            "unknown": number(report.get("unknown_targets")),
        }
    findings = _mapping(report.get("policy")).get("findings")
    findings = findings if isinstance(findings, list) else []
    introduced = sum(isinstance(f, dict) and f.get("state") == "introduced" for f in findings)
    return {  # plan
        "changes": number(summary.get("changes_pending")),
        "blocked": number(summary.get("changes_blocked")),
        "not_applied": 0,
        "drift": 0,
        "violations": introduced,
        "unknown": number(summary.get("unknown_targets")),
    }


def needs_attention(report: dict[str, Any], exit_code: int) -> bool:
    found = counts(report)
    if exit_code != 0:
        return True
    return any(found[key] for key in ("blocked", "not_applied", "drift", "violations", "unknown"))


def _client() -> GitHub:
    try:
        return GitHub(Context.from_env())
    except ReconcilerError as error:
        _fail(str(error))


def _run_url() -> str:
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    run_id = os.environ.get("GITHUB_RUN_ID", "")
    return f"{server}/{repository}/actions/runs/{run_id}" if run_id else ""


@click.group()
def github() -> None:
    """Pull-request comments, issues and step outputs for the GitHub workflows."""


@github.command()
@click.argument("body_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--marker", default="plan", show_default=True, help="Which sticky comment.")
@click.option("--pr", "number", type=click.IntRange(min=1), help="[default: from the event]")
def comment(body_file: Path, marker: str, number: int | None) -> None:
    """Post BODY_FILE as the pull request's comment with MARKER, updating it if it exists."""
    if number is None:
        number = _pull_request_number()
    try:
        text = body_file.read_text(encoding="utf-8")
    except OSError as error:
        _fail(f"{body_file}: cannot read it: {error.strerror or error}")
    with _client() as client:
        try:
            done, comment_id = client.upsert_comment(number, marker, text)
        except ReconcilerError as error:
            _fail(str(error))
    click.echo(f"{done} comment {comment_id} on #{number}")


def _pull_request_number() -> int:
    event = os.environ.get("GITHUB_EVENT_PATH")
    if not event:
        _fail("no --pr and no GITHUB_EVENT_PATH: which pull request?")
    found = _read_json(Path(event)).get("pull_request")
    number = found.get("number") if isinstance(found, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        _fail("the event is not a pull request's: pass --pr")
    return number


@github.command()
@click.option("--marker", required=True, help="Which flow's issue (reconcile, audit, ...).")
@click.option("--title", required=True, help="The issue's title when it is opened.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The run's JSON report (apply --format json, or audit's audit.json).",
)
@click.option("--exit-code", type=int, required=True, help="The run's exit code.")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The issue's text (e.g. the Markdown audit) [default: a summary of the report].",
)
def issue(marker: str, title: str, report: Path, exit_code: int, body_file: Path | None) -> None:
    """Open or update the flow's issue when the run needs attention; close it when clean."""
    found = _read_json(report) if report.exists() else {}
    attention = exit_code != 0 if not found else needs_attention(found, exit_code)
    run = _run_url()
    with _client() as client:
        try:
            number: int | None
            if attention:
                text = _issue_text(found, exit_code, body_file, run)
                done, number = client.open_issue(marker, title, text)
            else:
                note = f"The run {run} was clean; closing." if run else "A later run was clean."
                done, number = client.close_issue(marker, note)
        except ReconcilerError as error:
            _fail(str(error))
    click.echo(f"issue {done}" + (f": #{number}" if number else ""))


def _issue_text(found: dict[str, Any], exit_code: int, body_file: Path | None, run: str) -> str:
    lines = [f"The run {run} needs attention (exit {exit_code})." if run else f"Exit {exit_code}."]
    if found:
        shown = ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in counts(found).items()
        )
        lines += ["", shown]
    if body_file is not None:
        try:
            lines += ["", body_file.read_text(encoding="utf-8")]
        except OSError as error:
            lines += ["", f"(the report {body_file} could not be read: {error.strerror})"]
    return "\n".join(lines) + "\n"


@github.command()
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--exit-code", type=int, required=True, help="The run's exit code.")
@click.option(
    "--summary",
    "title",
    metavar="TITLE",
    help="Also add the counts as a table under TITLE to $GITHUB_STEP_SUMMARY.",
)
def outputs(report: Path, exit_code: int, title: str | None) -> None:
    """Write the step outputs (exit-code, changes, blocked, not-applied, drift, violations,
    unknown) to $GITHUB_OUTPUT (or stdout)."""
    found = counts(_read_json(report)) if report.exists() else {}
    lines = [f"exit-code={exit_code}", f"report={report}"]
    lines += [f"{key.replace('_', '-')}={value}" for key, value in found.items()]
    _append("GITHUB_OUTPUT", lines)
    if title is not None:
        table = [f"### {title}", "", "| exit | " + " | ".join(k.replace("_", " ") for k in found)]
        table[-1] += " |"
        table.append("|---" * (len(found) + 1) + "|")
        table.append(f"| {exit_code} | " + " | ".join(str(v) for v in found.values()) + " |")
        _append("GITHUB_STEP_SUMMARY", table)


def _append(variable: str, lines: list[str]) -> None:
    """Lines for a file the runner reads ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY), or stdout."""
    target = os.environ.get(variable)
    if not target:
        click.echo("\n".join(lines))
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    except OSError as error:
        _fail(f"cannot write ${variable}: {error.strerror or error}")
