"""`reconciler github ...`: the glue the workflows run, so every team does not write it again.

- `comment FILE --marker NAME`: one sticky comment on the pull request, updated in place;
- `issue --marker NAME --report FILE --exit-code N`: open or update the flow's issue when the run
  needs attention (it failed, or left BLOCKED, NOT APPLIED, drift or failing rules), close it when
  a later run is clean;
- `outputs FILE --exit-code N`: the step outputs of a run (exit code, counts) for `$GITHUB_OUTPUT`.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler.errors import ReconcilerError
from reconciler.escape import printable
from reconciler.github.api import Context, GitHub
from reconciler.github.report_text import TooBig, read_report
from reconciler.github.reports import (
    ChangeLine,
    RunError,
    RunReport,
    UnknownReport,
    parse_report,
)
from reconciler.render.markdown import escape

_REPORT_LIMIT = 64 * 1024 * 1024  # characters of any one value held
# Characters read in all: a 50,000-user audit's JSON is ~2 GB; a gzip can inflate without end.
_TEXT_LIMIT = 16 * 1024 * 1024 * 1024


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    raise SystemExit(1)


def _read_json(path: Path) -> dict[str, Any]:
    """A report (or the event): JSON, or gzip-compressed JSON (`--out audit.json.gz`, the
    evidence bundle's `audit.json.gz`), read a value at a time (`report_text`): no value held
    over `_REPORT_LIMIT`, nothing read past `_TEXT_LIMIT` once inflated."""
    try:
        with path.open("rb") as raw:
            packed = raw.read(2) == _GZIP_MAGIC  # JSON never starts with these bytes
            raw.seek(0)
            if packed:
                with gzip.open(raw, "rt", encoding="utf-8") as text:
                    found = read_report(text, _REPORT_LIMIT, _TEXT_LIMIT)
            else:
                with io.TextIOWrapper(raw, encoding="utf-8") as text:
                    found = read_report(text, _REPORT_LIMIT, _TEXT_LIMIT)
    except TooBig as big:
        _fail(f"{path}: {big}; not a report of this tool")
    except (EOFError, zlib.error, gzip.BadGzipFile):
        _fail(f"{path}: a damaged gzip file; pass the report the command wrote")
    except OSError as error:
        _fail(f"{path}: cannot read it: {error.strerror or error}")
    except (ValueError, RecursionError):
        _fail(f"{path}: not JSON; pass the report the command wrote with --format json")
    if not isinstance(found, dict):
        _fail(f"{path}: not a report of this tool")
    return found


_GZIP_MAGIC = b"\x1f\x8b"


def _parsed(document: dict[str, Any], path: Path) -> RunReport:
    try:
        return parse_report(document)
    except UnknownReport as unknown:
        _fail(f"{path}: {unknown}")


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
    help="The run's JSON report (apply --format json, or audit's audit.json.gz).",
)
@click.option("--exit-code", type=int, required=True, help="The run's exit code.")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The issue's text (e.g. the Markdown audit) [default: a summary of the report].",
)
def issue(marker: str, title: str, report: Path, exit_code: int, body_file: Path | None) -> None:
    """Open or update the flow's issue when the run needs attention; close it when clean."""
    document = _read_json(report) if report.exists() else {}
    found = _parsed(document, report) if document else None
    attention = exit_code != 0 if found is None else found.needs_attention(exit_code)
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


# The issue lists at most this many changes of each kind; the report (an artifact) has them all.
LISTED_CHANGES = 50
LISTED_RESULTS = (("failed", "Failed"), ("not_applied", "Not applied"), ("blocked", "Blocked"))


def _issue_text(
    found: RunReport | None, exit_code: int, body_file: Path | None, run: str
) -> str:
    lines = [f"The run {run} needs attention (exit {exit_code})." if run else f"Exit {exit_code}."]
    if found is None:
        lines += ["", "The run wrote no report: see the run's log."]
    failure = found.error if found is not None else None
    if failure is not None:
        lines += ["", *_error_lines(failure)]
    elif found is not None:
        shown = ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in found.counts.items()
        )
        lines += ["", shown]
        lines += _change_lines(found, run)
    if body_file is not None and not (failure is not None and not body_file.exists()):
        try:
            lines += ["", body_file.read_text(encoding="utf-8")]
        except OSError as error:
            lines += ["", f"(the report {body_file} could not be read: {error.strerror})"]
    return "\n".join(lines) + "\n"


def _error_lines(failure: RunError) -> list[str]:
    code = printable(failure.code, 40)
    what = "was refused" if failure.refused else "failed"
    lines = [f"**The run {what}** ({code}): {escape(failure.message)}"]
    lines += [f"- {escape(reason)}" for reason in failure.reasons]
    for problem in failure.problems[:LISTED_CHANGES]:
        if problem is not None:
            lines.append(f"- {escape(problem.where)}: {escape(problem.message)}")
    if len(failure.problems) > LISTED_CHANGES:
        lines.append(f"- and {len(failure.problems) - LISTED_CHANGES} more")
    if failure.hint:
        lines += ["", f"What to do: {escape(failure.hint)}"]
    return lines


def _change_lines(found: RunReport, run: str) -> list[str]:
    """An apply's blocked, not applied and failed changes, each kind capped at LISTED_CHANGES."""
    lines: list[str] = []
    for result, title in LISTED_RESULTS:
        these = [change for change in found.changes if change.result == result]
        if not these:
            continue
        lines += ["", f"{title} ({len(these)}):"]
        lines += [f"- {_change_line(change)}" for change in these[:LISTED_CHANGES]]
        if len(these) > LISTED_CHANGES:
            where = f" in the report of {run}" if run else " in the report"
            lines.append(f"- and {len(these) - LISTED_CHANGES} more{where} (the run's artifact)")
    return lines


def _change_line(change: ChangeLine) -> str:
    text = f"`{printable(change.where, 200)}`"
    return f"{text}: {escape(change.detail)}" if change.detail else text


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
    document = _read_json(report) if report.exists() else {}
    parsed = _parsed(document, report) if document else None
    kind = parsed.kind if parsed is not None else ""
    failure = parsed.error if parsed is not None else None
    found = parsed.counts if parsed is not None else {}
    lines = [f"exit-code={exit_code}", f"report={report}", f"kind={kind}"]
    lines.append(f"error={printable(failure.code, 40) if failure else ''}")
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
