"""The command line: parse, build the session, call the core, render, pick the exit code.

Nothing else prints. Each command runs on one event loop and, when it talks to Zoom, one session
(one client, one token, one pacer, one live reader) from its start to its end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import sys
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.apply.report import ApplyReport
from reconciler.apply.run import DEFAULT_AUDIT_LOG, ApplySettings, check_safety, run_apply
from reconciler.cli_options import format_option, path_argument, sandbox_option
from reconciler.connect import Connector, Session
from reconciler.desired import DesiredState, load_repo
from reconciler.desired.editor_schemas import write_schemas
from reconciler.diagnostic import from_problem
from reconciler.errors import ReconcilerError, Refused, ValidationFailed
from reconciler.exitcodes import ExitCode, for_apply, for_explain, for_plan, for_validate
from reconciler.plan.explain import explain as explain_field
from reconciler.plan.model import Plan, load_plan
from reconciler.plan.run import make_plan, scope_for
from reconciler.render import PLAN_FORMATS, render
from reconciler.render.apply_report import render_dry_run, render_report
from reconciler.render.diagnostics import emit_text, github_emitter
from reconciler.render.explain import render as render_explanation
from reconciler.sandbox.cli import sandbox
from reconciler.vocab import FAMILIES, ProgressHook, no_progress

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
    """Every problem on stdout (and as a GitHub annotation under Actions), the count on stderr."""
    diagnostics = [from_problem(problem) for problem in failed.problems]
    prefix = "" if os.path.normpath(path) == "." else os.path.normpath(path) + "/"
    emit = github_emitter(prefix) if os.environ.get("GITHUB_ACTIONS") == "true" else emit_text
    out = io.StringIO()
    emit(diagnostics, out)
    click.echo(out.getvalue(), nl=False)
    click.echo(_count(failed), err=True)


def _count(failed: ValidationFailed) -> str:
    count, files = len(failed.problems), len({p.file for p in failed.problems if p.file})
    text = f"{count} problem{'' if count == 1 else 's'}"
    return f"{text} in {files} file{'' if files == 1 else 's'}" if files else text


def _exit(code: ExitCode) -> NoReturn:
    sys.exit(int(code))


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    _exit(ExitCode.ERROR)


@contextmanager
def _failures(path: str) -> Iterator[None]:
    """Bad input and API failures end here with one clear line and the contract's exit code."""
    try:
        yield
    except ValidationFailed as failed:
        _report(failed, path)
        _exit(ExitCode.ERROR)
    except Refused as refused:
        click.echo(f"refused: {refused}", err=True)
        _exit(ExitCode.REFUSED)
    except ReconcilerError as error:
        _fail(str(error))


class _Loop:
    """One event loop for a whole command, so a session opened once serves every step of it."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._stack = AsyncExitStack()

    def __enter__(self) -> _Loop:
        self._runner.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self._stack.aclose())
        finally:
            self._runner.__exit__(kind, error, trace)

    def run(self, work: Coroutine[Any, Any, ResultT]) -> ResultT:
        return self._runner.run(work)

    def session(self, state: DesiredState, sandbox: bool) -> Session:
        """The command's one session: the connector the caller gave (tests), else the default."""
        found = click.get_current_context().find_object(Connector) or Connector()
        connector = dataclasses.replace(found, sandbox=sandbox)
        opened = connector.open(state.root, tier=state.options.rate_tier)
        return self.run(self._stack.enter_async_context(opened))


@cli.command()
@path_argument
def validate(path: str) -> None:
    """Check the settings repo at PATH offline: every problem with file:line:col."""
    try:
        state = load_repo(path)
    except ValidationFailed as failed:
        _report(failed, path)
        _exit(for_validate(len(failed.problems)))
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


@contextmanager
def _progress(label: str) -> Iterator[ProgressHook]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield no_progress
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


def _write_plan(plan: Plan, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        render(plan, fh, "json")
    click.echo(f"Saved the plan to {out}", err=True)


def _plan_now(loop: _Loop, state: DesiredState, session: Session, *scoping: Any) -> Plan:
    scope = scope_for(state, *scoping)
    with _progress("Reading Zoom settings") as progress:
        return loop.run(make_plan(state, session, scope, progress))


@cli.command()
@path_argument
@sandbox_option("Plan against")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON)."
)
@format_option(PLAN_FORMATS)
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
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        session = loop.session(state, sandbox)
        made = _plan_now(loop, state, session, targets, changed_since)
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
    _exit(for_plan(made, detailed=detailed_exitcode))


# -- explain ------------------------------------------------------------------------------------


@cli.command()
@click.argument("user")
@click.argument("field")
@path_argument
@sandbox_option("Read the live value from")
@click.option(
    "--family",
    type=click.Choice(list(FAMILIES)),
    help="The option family of FIELD (or prefix FIELD with it: meeting_security.waiting_room).",
)
def explain(user: str, field: str, path: str, sandbox: bool, family: Any) -> None:
    """Show where FIELD of USER comes from: each layer, the live value, locks, the verdict."""
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        session = loop.session(state, sandbox)
        found = loop.run(explain_field(state, session, user, field, family))
    render_explanation(found, sys.stdout)
    _exit(for_explain(found))


# -- apply --------------------------------------------------------------------------------------


def _confirm(plan: Plan, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        click.echo("refused: not a terminal, so nobody can confirm; run with --yes", err=True)
        _exit(ExitCode.REFUSED)
    targets = len({request.target for request in plan.requests})
    if not click.confirm(f"Apply {len(plan.pending)} change(s) to {targets} target(s)?"):
        click.echo("Cancelled; nothing was sent.", err=True)
        _exit(ExitCode.REFUSED)


@cli.command()
@path_argument
@sandbox_option("Apply to")
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
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        session = loop.session(state, sandbox)
        made = load_plan(plan_file) if plan_file else _plan_now(loop, state, session)
        render(made, sys.stdout, "text", color=_color())
        if dry_run:
            render_dry_run(made, sys.stdout)
            _exit(for_plan(made, detailed=False))
        if not made.requests:
            _exit(for_apply(made, ApplyReport()))
        settings = ApplySettings(
            audit_log=audit_log or Path(path) / DEFAULT_AUDIT_LOG,
            safety=state.options.safety,
            compare_and_set=plan_file is not None,
            force=force,
            fail_fast=fail_fast,
        )
        check_safety(made, settings.safety, force=force)  # before asking; run_apply checks too
        _confirm(made, yes)
        with _progress("Applying") as progress:
            report = loop.run(run_apply(made, session, settings, progress))
    render_report(made, report, sys.stdout)
    _exit(for_apply(made, report))


def main() -> None:
    cli()
