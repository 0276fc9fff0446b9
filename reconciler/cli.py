"""The command line: parse, call the core, render, pick the exit code. Nothing else prints."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.apply.report import ApplyReport
from reconciler.apply.run import DEFAULT_AUDIT_LOG, ApplySettings, check_safety, run_apply
from reconciler.desired import DesiredState, load_repo
from reconciler.desired.editor_schemas import write_schemas
from reconciler.desired.problems import github_annotation
from reconciler.errors import ReconcilerError, Refused, ValidationFailed
from reconciler.plan.explain import ExplainRequest
from reconciler.plan.explain import explain as explain_field
from reconciler.plan.model import Plan, load_plan
from reconciler.plan.run import PlanRequest, make_plan
from reconciler.render import render
from reconciler.render.apply_report import render_dry_run, render_report
from reconciler.render.explain import render as render_explanation
from reconciler.sandbox.cli import sandbox
from reconciler.schemas import FAMILIES

ResultT = TypeVar("ResultT")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Declarative GitOps reconciler for Zoom settings."""


cli.add_command(sandbox)


def _summary(state: DesiredState) -> str:
    parts = ["account" if state.account else "no account.yaml"]
    if state.defaults_file:
        parts.append(f"defaults ({state.defaults_file})")
    parts += [f"{len(state.groups)} groups", f"{len(state.users)} users"]
    return ", ".join(parts)


def _report(failed: ValidationFailed, path: str) -> None:
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    prefix = "" if os.path.normpath(path) == "." else os.path.normpath(path) + "/"
    for found in failed.problems:
        click.echo(str(found))
        if annotate:
            click.echo(github_annotation(found, prefix))
    click.echo(_count(failed), err=True)


def _count(failed: ValidationFailed) -> str:
    count, files = len(failed.problems), len({p.file for p in failed.problems if p.file})
    text = f"{count} problem{'' if count == 1 else 's'}"
    return f"{text} in {files} file{'' if files == 1 else 's'}" if files else text


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
def validate(path: str) -> None:
    """Check the settings repo at PATH offline: every problem with file:line:col."""
    try:
        state = load_repo(path)
    except ValidationFailed as failed:
        _report(failed, path)
        sys.exit(1)
    click.echo(f"{path}: valid: {_summary(state)}")


@cli.command()
@click.option(
    "--out",
    default="schemas/repo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the schemas into.",
)
def schema(out: Path) -> None:
    """Write the JSON Schemas of the settings repo's files (for editors and check-jsonschema)."""
    for written in write_schemas(out):
        click.echo(str(written))


# -- plan ---------------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _run(work: Coroutine[Any, Any, ResultT], path: str) -> ResultT:
    """Run the core; bad input and API failures end here with exit code 1 and a clear message."""
    try:
        return asyncio.run(work)
    except ValidationFailed as failed:
        _report(failed, path)
        sys.exit(1)
    except Refused as refused:
        click.echo(f"refused: {refused}", err=True)
        sys.exit(3)
    except ReconcilerError as error:
        _fail(str(error))


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _plan_exit_code(plan: Plan, detailed: bool) -> int:
    if plan.unknown:
        return 1
    if not detailed:
        return 0
    if plan.blocked:
        return 3
    return 2 if plan.pending else 0


def _write_plan(plan: Plan, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        render(plan, fh, "json")
    click.echo(f"Saved the plan to {out}", err=True)


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option("--sandbox", is_flag=True, help="Plan against the built-in Zoom sandbox.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Only this target: account, group:NAME, user:EMAIL (repeatable).",
)
@click.option(
    "--changed-since",
    metavar="GIT_REV",
    help="Only targets whose desired settings changed since this git revision.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when changes are pending, 3 when some are blocked.",
)
def plan(
    path: str,
    sandbox: bool,
    out: Path | None,
    fmt: str,
    targets: tuple[str, ...],
    changed_since: str | None,
    detailed_exitcode: bool,
) -> None:
    """Show what would change in Zoom to match the settings repo at PATH."""
    request = PlanRequest(Path(path), sandbox, targets, changed_since)
    with _progress("Reading Zoom settings") as progress:
        made = _run(make_plan(request, progress), path)
    render(made, sys.stdout, fmt, color=_color(), changed_since=changed_since)
    sys.stdout.flush()  # the plan first, then any note on stderr
    if out is not None:
        _write_plan(made, out)
    if made.unknown:
        click.echo(
            f"error: {len(made.unknown)} read(s) failed; those targets are UNKNOWN, "
            "neither in sync nor drift",
            err=True,
        )
    sys.exit(_plan_exit_code(made, detailed_exitcode))


# -- explain ------------------------------------------------------------------------------------


@cli.command()
@click.argument("user")
@click.argument("field")
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option("--sandbox", is_flag=True, help="Read the live value from the built-in sandbox.")
@click.option(
    "--family",
    type=click.Choice(list(FAMILIES)),
    help="The option family of FIELD (or prefix FIELD with it: meeting_security.waiting_room).",
)
def explain(user: str, field: str, path: str, sandbox: bool, family: str | None) -> None:
    """Show where FIELD of USER comes from: each layer, the live value, locks, the verdict."""
    request = ExplainRequest(Path(path), user, field, family, sandbox)  # type: ignore[arg-type]
    found = _run(explain_field(request), path)
    render_explanation(found, sys.stdout)
    sys.exit(1 if found.live_error else 0)


# -- apply --------------------------------------------------------------------------------------


def _load(path: str) -> DesiredState:
    try:
        return load_repo(path)
    except ValidationFailed as failed:
        _report(failed, path)
        sys.exit(1)


def _plan_for_apply(path: str, sandbox: bool, plan_file: Path | None, state: DesiredState) -> Plan:
    if plan_file is not None:
        try:
            return load_plan(plan_file)
        except ReconcilerError as error:
            _fail(str(error))
    request = PlanRequest(Path(path), sandbox)
    with _progress("Reading Zoom settings") as progress:
        return _run(make_plan(request, progress, state), path)


def _confirm(plan: Plan, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        click.echo("refused: not a terminal, so nobody can confirm; run with --yes", err=True)
        sys.exit(3)
    targets = len({request.target for request in plan.requests})
    if not click.confirm(f"Apply {len(plan.pending)} change(s) to {targets} target(s)?"):
        click.echo("Cancelled; nothing was sent.", err=True)
        sys.exit(3)


def _apply_exit_code(plan: Plan, report: ApplyReport) -> int:
    if report.failed or plan.unknown:
        return 1
    return 3 if report.stale or plan.blocked else 0


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option("--sandbox", is_flag=True, help="Apply to the built-in Zoom sandbox.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this saved plan (checksum and compare-and-set checked).",
)
@click.option("--dry-run", is_flag=True, help="Print the exact requests; send nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Go past the safety limits of reconciler.yaml.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed target.")
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append-only JSON-lines log [default: PATH/.reconciler/audit.log].",
)
def apply(
    path: str,
    sandbox: bool,
    plan_file: Path | None,
    dry_run: bool,
    yes: bool,
    force: bool,
    fail_fast: bool,
    audit_log: Path | None,
) -> None:
    """Make Zoom match the settings repo at PATH, sending only the changed fields."""
    state = _load(path)
    made = _plan_for_apply(path, sandbox, plan_file, state)
    render(made, sys.stdout, "text", color=_color())
    if dry_run:
        render_dry_run(made, sys.stdout)
        sys.exit(_plan_exit_code(made, detailed=False))
    if not made.requests:
        sys.exit(_apply_exit_code(made, ApplyReport()))
    try:
        check_safety(made, state.options.safety, force=force)
    except Refused as refused:
        click.echo(f"refused: {refused}", err=True)
        sys.exit(3)
    _confirm(made, yes)
    settings = ApplySettings(
        repo=Path(path),
        sandbox=sandbox,
        tier=state.options.rate_tier,
        audit_log=audit_log or Path(path) / DEFAULT_AUDIT_LOG,
        compare_and_set=plan_file is not None,
        fail_fast=fail_fast,
    )
    with _progress("Applying") as progress:
        report = _run(run_apply(made, settings, progress), path)
    render_report(made, report, sys.stdout)
    sys.exit(_apply_exit_code(made, report))


def main() -> None:
    cli()
