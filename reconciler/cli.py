"""The command line: parse, build the session, call the core, render, pick the exit code.

Nothing else prints. Each command runs on one event loop and, when it talks to Zoom, one session
(one client, one token, one pacer, one live reader) from its start to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import io
import os
import sys
import traceback
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TextIO, TypeVar

import click

from reconciler import __version__
from reconciler.apply.audit_log import audit_log_path, check_audit_log
from reconciler.apply.report import ApplyReport, Traffic
from reconciler.apply.run import ApplySettings, check_plan, run_apply
from reconciler.apply.runlock import RunLock, new_run_id, run_lock_path
from reconciler.audit.evidence import KEY_ENV, verify, write_manifest
from reconciler.audit.model import AuditResult
from reconciler.audit.run import (
    acknowledgement_problems,
    check_same_account,
    run_audit,
    since_report,
    snapshot_folder,
)
from reconciler.audit.snapshot import manifest_path, read_header
from reconciler.cli_options import (
    changed_since_option,
    format_option,
    path_argument,
    quiet_option,
    sandbox_option,
    strict_option,
    targets_option,
)
from reconciler.connect import Connector, Session
from reconciler.desired import DesiredState, load_repo
from reconciler.desired.editor_schemas import write_schemas
from reconciler.desired.problems import sorted_problems
from reconciler.diagnostic import Diagnostic, from_problem
from reconciler.errors import ReconcilerError, Refused, ValidationFailed
from reconciler.escape import printable, quoted
from reconciler.exitcodes import (
    ExitCode,
    for_apply,
    for_audit,
    for_explain,
    for_plan,
    for_validate,
)
from reconciler.export.engine import ExportOptions, ExportScope, Mode, family_keys
from reconciler.export.remedy import packs_for
from reconciler.export.run import run_export, run_remedy
from reconciler.github.cli import github
from reconciler.plan.explain import explain as explain_field
from reconciler.plan.model import Plan, load_plan
from reconciler.plan.policies import conflict_problems, desired_violations, engine_for
from reconciler.plan.run import make_plan, scope_for
from reconciler.plan.safety import judge_refusals
from reconciler.plan.scope import within
from reconciler.policy import Engine
from reconciler.policy.cli import policy
from reconciler.render import PLAN_FORMATS, render
from reconciler.render.apply_report import (
    APPLY_FORMATS,
    blocked_reason,
    render_dry_run,
    render_dry_run_json,
    render_report,
    render_report_json,
)
from reconciler.render.audit import AUDIT_FORMATS, EVIDENCE_NAMES, render_audit
from reconciler.render.audit_sarif import roll_up_note
from reconciler.render.diagnostics import DiagnosticEmitter, emit_text, github_emitter
from reconciler.render.explain import render as render_explanation
from reconciler.render.failure import write_failure, write_failure_markdown
from reconciler.render.progress import ProgressLines
from reconciler.render.validate import render_validate_json, validate_json
from reconciler.sandbox.cli import sandbox
from reconciler.targets import UserSelector, parse_selectors
from reconciler.vocab import FAMILIES, ProgressHook, no_progress
from reconciler.watch.cli import watch
from reconciler.zoom.budget import ReadBudget

ResultT = TypeVar("ResultT")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an unexpected error.")
def cli(debug: bool) -> None:
    """Declarative GitOps reconciler for Zoom settings."""
    del debug  # read by main() before click runs, so it works wherever it is written
    global _json_report  # noqa: PLW0603 - each command says where its own report goes
    _json_report = None


cli.add_command(sandbox)
cli.add_command(policy)
cli.add_command(github)
cli.add_command(watch)


def _summary(state: DesiredState) -> str:
    parts = ["account" if state.account else "no account.yaml"]
    if state.defaults_file:
        parts.append(f"defaults ({state.defaults_file})")
    parts += [f"{len(state.groups)} groups", f"{len(state.users)} users"]
    return ", ".join(parts)


def _report(failed: ValidationFailed, path: str) -> None:
    """Every problem on stdout (stderr when stdout holds the run's JSON or Markdown report; and as
    a GitHub annotation under Actions), the count on stderr."""
    diagnostics = [from_problem(problem) for problem in failed.problems]
    out = io.StringIO()
    _emitter(path)(diagnostics, out)
    click.echo(out.getvalue(), nl=False, err=_stdout_holds_report())
    click.echo(_count(failed), err=True)


def _emitter(path: str) -> DiagnosticEmitter:
    prefix = "" if os.path.normpath(path) == "." else os.path.normpath(path) + "/"
    return github_emitter(prefix) if os.environ.get("GITHUB_ACTIONS") == "true" else emit_text


def _warn(warnings: list[Diagnostic], path: str) -> None:
    """Warnings on stderr, after the plan (and as GitHub annotations under Actions)."""
    if not warnings:
        return
    out = io.StringIO()
    _emitter(path)([_as_warning(w) for w in warnings], out)
    click.echo(out.getvalue(), nl=False, err=True)


def _as_warning(diagnostic: Diagnostic) -> Diagnostic:
    return dataclasses.replace(diagnostic, message=f"warning: {diagnostic.message}")


def _count(failed: ValidationFailed) -> str:
    count, files = len(failed.problems), len({p.file for p in failed.problems if p.file})
    text = f"{count} problem{'' if count == 1 else 's'}"
    return f"{text} in {files} file{'' if files == 1 else 's'}" if files else text


def _exit(code: ExitCode) -> NoReturn:
    sys.exit(int(code))


@dataclasses.dataclass
class _JsonReport:
    """Where this run's report goes (stdout, a file, the PR comment's Markdown), so that a run
    that fails writes one there too: the report's kind with an `error` object, never nothing."""

    kind: str
    files: list[Path] = dataclasses.field(default_factory=list)
    stdout: str | None = None  # "json" or "markdown"
    done: bool = False  # the run's own report is out: a later failure adds none

    def fail(self, error: ReconcilerError, code: ExitCode) -> None:
        if self.done:
            return
        self.done = True
        for file in self.files:
            with contextlib.suppress(OSError), report_file(file) as fh:  # stderr says what failed
                write_failure(self.kind, error, int(code), fh)
        if self.stdout == "json":
            write_failure(self.kind, error, int(code), sys.stdout)
        elif self.stdout == "markdown":
            write_failure_markdown(self.kind, error, int(code), sys.stdout)
        sys.stdout.flush()


GZIP_LEVEL = 6  # zlib's default trade of size for time; Python's gzip defaults to 9, the slowest


@contextmanager
def report_file(path: Path) -> Iterator[TextIO]:
    """A report's file (its folder made), gzip-compressed when its name ends in `.gz`: with no
    name and no time in the gzip header, so one report is always the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".gz":
        with path.open("w", encoding="utf-8") as fh:
            yield fh
        return
    with (
        path.open("wb") as raw,
        gzip.GzipFile("", "wb", GZIP_LEVEL, fileobj=raw, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8") as fh,
    ):
        yield fh


# The running command's report; a module's state because `main` reports a bug with it too.
_json_report: _JsonReport | None = None


def _expect_report(kind: str, *, files: list[Path], stdout: str | None) -> _JsonReport:
    global _json_report  # noqa: PLW0603 - one command per process (or per test invocation)
    _json_report = _JsonReport(kind, files, stdout)
    return _json_report


def _finished() -> None:
    """The run's own report is out: a failure after it is the line on stderr alone."""
    if _json_report is not None:
        _json_report.done = True


def _stdout_holds_report() -> bool:
    return _json_report is not None and _json_report.stdout is not None and not _json_report.done


def _report_failure(error: ReconcilerError, code: ExitCode) -> None:
    if _json_report is not None:
        _json_report.fail(error, code)


def _fail(message: str | ReconcilerError) -> NoReturn:
    """One `error:` line, the report's `error` (of the error's own class), exit 1."""
    error = message if isinstance(message, ReconcilerError) else ReconcilerError(message)
    _report_failure(error, ExitCode.ERROR)
    click.echo(f"error: {printable(str(error))}", err=True)
    _exit(ExitCode.ERROR)


def _refuse(message: str | Refused) -> NoReturn:
    """One `refused:` line, the report's `error`, exit 3."""
    refused = message if isinstance(message, Refused) else Refused(message)
    _report_failure(refused, ExitCode.REFUSED)
    click.echo(f"refused: {printable(str(refused))}", err=True)
    _exit(ExitCode.REFUSED)


@contextmanager
def _failures(path: str) -> Iterator[None]:
    """Bad input and API failures end here with one clear line and the contract's exit code (and
    the report of a --format json run, with its `error`)."""
    try:
        yield
    except ValidationFailed as failed:
        _report(failed, path)  # first: it goes to stderr while stdout waits for the report
        _report_failure(failed, ExitCode.ERROR)
        _exit(ExitCode.ERROR)
    except Refused as refused:
        _refuse(refused)
    except ReconcilerError as error:
        _fail(error)


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
        # The account's credentials come from the environment, read here and nowhere below.
        connector = dataclasses.replace(found, sandbox=sandbox).from_env()
        options = state.options
        reads = ReadBudget(options.read_deadline, options.read_stall)
        opened = connector.open(state.root, tier=options.rate_tier, reads=reads)
        return self.run(self._stack.enter_async_context(opened))


VALIDATE_FORMATS = ("text", "json")


@cli.command()
@path_argument
@format_option(VALIDATE_FORMATS)
def validate(path: str, fmt: str) -> None:
    """Check the settings repo at PATH offline: every problem with file:line:col."""
    if fmt == "json":
        _validate_json(path)
    try:
        state, engine = _checked(path)
    except ValidationFailed as failed:
        _report(failed, path)
        _exit(for_validate(len(failed.problems)))
    violations = desired_violations(state, engine) if engine else []
    if violations:
        out = io.StringIO()
        _emitter(path)(violations, out)
        click.echo(out.getvalue(), nl=False)
        click.echo(_violations_line(len(violations)), err=True)
        _exit(for_validate(0, len(violations)))
    click.echo(f"{printable(path)}: valid: {_summary(state)}")


def _checked(path: str) -> tuple[DesiredState, Engine | None]:
    """The repo, loaded and checked offline; ValidationFailed with every problem found."""
    state = load_repo(path)
    engine = engine_for(state)
    found = acknowledgement_problems(state, engine, datetime.now(UTC).date())
    found += conflict_problems(state, engine) if engine else []
    if found:
        raise ValidationFailed(sorted_problems(found))
    return state, engine


def _violations_line(count: int) -> str:
    return f"{count} policy violation{'' if count == 1 else 's'} in what the repo asks for"


def _validate_json(path: str) -> NoReturn:
    """The same checks as `validate`, as one JSON report on stdout (the counts on stderr)."""
    try:
        state, engine = _checked(path)
    except ValidationFailed as failed:
        code = for_validate(len(failed.problems))
        document = validate_json(path, None, failed=failed, exit_code=int(code))
        render_validate_json(document, sys.stdout)
        click.echo(_count(failed), err=True)
        _exit(code)
    except ReconcilerError as error:  # e.g. a schema missing: still a report of this kind
        _expect_report("validate", files=[], stdout="json")
        _fail(error)
    violations = desired_violations(state, engine) if engine else []
    render_validate_json(validate_json(path, state, violations=violations), sys.stdout)
    if violations:
        click.echo(_violations_line(len(violations)), err=True)
    _exit(for_validate(0, len(violations)))


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
    try:
        written = write_schemas(out)
    except OSError as error:
        _fail(f"cannot write the schemas to {printable(str(out))}: {error.strerror or error}")
    for path in written:
        click.echo(printable(str(path)))


# -- plan ---------------------------------------------------------------------------------------


# Off a terminal, progress lines start once a run has taken this long (quick runs stay quiet).
PROGRESS_AFTER_SECONDS = 2.0


@contextmanager
def _progress(label: str, session: Session, quiet: bool) -> Iterator[ProgressHook]:
    """A progress bar on stderr when it is a terminal; plain lines for CI logs otherwise (and a
    line for each long wait of the client); nothing with --quiet."""
    if quiet:
        yield no_progress
        return
    if not sys.stderr.isatty():
        lines = ProgressLines(
            sys.stderr, session.zoom.counters, label, quiet_for=PROGRESS_AFTER_SECONDS
        )
        session.zoom.observer = lines.wait
        try:
            yield lines
            lines.finish()
        finally:
            session.zoom.observer = None
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
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            render(plan, fh, "json")
    except OSError as error:
        _fail(f"cannot save the plan to {printable(str(out))}: {error.strerror or error}")
    click.echo(f"Saved the plan to {printable(str(out))}", err=True)


def _plan_now(
    loop: _Loop, state: DesiredState, session: Session, quiet: bool, *scoping: Any
) -> Plan:
    scope = scope_for(state, *scoping)
    with _progress("plan", session, quiet) as progress:
        return loop.run(make_plan(state, session, scope, progress))


@cli.command()
@path_argument
@sandbox_option("Plan against")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON)."
)
@format_option(PLAN_FORMATS)
@targets_option
@changed_since_option
@strict_option
@quiet_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when changes are pending, 3 when some are blocked or apply would refuse the plan.",
)
def plan(
    path: str,
    sandbox: bool,
    out: Path | None,
    fmt: str,
    targets: tuple[str, ...],
    changed_since: str | None,
    strict: bool,
    quiet: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what would change in Zoom to match the settings repo at PATH."""
    report = _expect_report(
        "plan", files=[out] if out else [], stdout=fmt if fmt in ("json", "markdown") else None
    )
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        session = loop.session(state, sandbox)
        made = _plan_now(loop, state, session, quiet, targets, changed_since)
    render(made, sys.stdout, fmt, color=_color(), changed_since=changed_since)
    sys.stdout.flush()  # the plan first, then any note on stderr
    report.stdout = None  # the plan is out; --out still gets a report if it cannot be saved
    if out is not None:
        _write_plan(made, out)
    report.done = True
    _warn(made.skipped, path)
    if made.unknown:
        click.echo(
            f"error: {len(made.unknown)} read(s) failed; those targets are UNKNOWN, "
            "neither in sync nor drift",
            err=True,
        )
    _exit(for_plan(made, detailed=detailed_exitcode, strict=strict))


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
        _refuse("not a terminal, so nobody can confirm; run with --yes")
    targets = len({request.target for request in plan.requests})
    if not click.confirm(f"Apply {len(plan.pending)} change(s) to {targets} target(s)?"):
        _report_failure(Refused("cancelled; nothing was sent"), ExitCode.REFUSED)
        click.echo("Cancelled; nothing was sent.", err=True)
        _exit(ExitCode.REFUSED)


@cli.command()
@path_argument
@sandbox_option("Apply to")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this saved plan (checked against the account and the repo first); with --target,"
    " only those targets' changes of it.",
)
@targets_option
@changed_since_option
@format_option(APPLY_FORMATS)
@click.option("--dry-run", is_flag=True, help="Print the exact requests; send nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Go past the safety limits of reconciler.yaml.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed target.")
@click.option(
    "--fail-on-blocked", is_flag=True, help="Exit 3, naming them, when some changes are BLOCKED."
)
@strict_option
@quiet_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for another apply of this repo and account to finish.",
)
@click.option(
    "--max-plan-age",
    type=click.FloatRange(min=0, min_open=True),
    default=24,
    show_default=True,
    help="Refuse a saved plan older than this many hours.",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append-only JSON-lines log [default: PATH/.reconciler/audit.log].",
)
def apply(
    path: str,
    sandbox: bool,
    plan_file: Path | None,
    targets: tuple[str, ...],
    changed_since: str | None,
    fmt: str,
    dry_run: bool,
    yes: bool,
    force: bool,
    fail_fast: bool,
    fail_on_blocked: bool,
    strict: bool,
    quiet: bool,
    lock_timeout: float,
    max_plan_age: float,
    audit_log: Path | None,
) -> None:
    """Make Zoom match the settings repo at PATH, sending only the changed fields."""
    out = sys.stderr if fmt == "json" else sys.stdout  # JSON alone on stdout
    _expect_report("apply", files=[], stdout="json" if fmt == "json" else None)
    if plan_file and changed_since:
        _fail(CHANGED_SINCE_WITH_PLAN)
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        log = None if dry_run else audit_log_path(state.root, audit_log)
        if log is not None:
            check_audit_log(log)  # before anything is read, so nothing is read in vain
        session = loop.session(state, sandbox)
        run_id = new_run_id()
        with contextlib.ExitStack() as held:
            if log is not None:
                lock = run_lock_path(state.root, session.account_id)
                held.enter_context(RunLock(lock, run_id, timeout=lock_timeout))
            if plan_file:
                made = load_plan(plan_file)
            else:
                made = _plan_now(loop, state, session, quiet, targets, changed_since)
            settings = ApplySettings(
                audit_log=log or Path(),
                run_id=run_id,
                saved_plan=plan_file is not None,
                force=force or dry_run,  # a dry run shows what the limits would refuse
                fail_fast=fail_fast,
                max_plan_age=timedelta(hours=max_plan_age),
            )
            if plan_file:  # nothing of a saved plan is shown before it is found genuine
                loop.run(
                    check_plan(made, state, session, dataclasses.replace(settings, force=True))
                )
                made = _saved_scope(made, targets)
            render(made, out, "text", color=_color() and out is sys.stdout)
            _warn(made.skipped, path)
            if dry_run:
                would_refuse = [] if force else judge_refusals(made, state)
                render_dry_run(made, out, would_refuse)
                if fmt == "json":
                    render_dry_run_json(made, sys.stdout, would_refuse)
                    _finished()
                _exit(for_plan(made, detailed=False, strict=strict))
            if not made.requests:
                _finish(
                    made,
                    ApplyReport.nothing_sent(made.blocked, Traffic.of(session.zoom.counters)),
                    fmt,
                    run_id,
                    fail_on_blocked,
                    strict,
                )
            loop.run(check_plan(made, state, session, settings))  # before asking
            _confirm(made, yes)
            with _progress("apply", session, quiet) as progress:
                report = loop.run(run_apply(made, state, session, settings, progress))
    _finish(made, report, fmt, run_id, fail_on_blocked, strict)


CHANGED_SINCE_WITH_PLAN = (
    "--changed-since does not go with --plan: a saved plan keeps the scope it was made with "
    "(plan with --changed-since --out FILE, or pick targets of the saved plan with --target)"
)


def _saved_scope(plan: Plan, targets: tuple[str, ...]) -> Plan:
    """With --target, only those targets' changes of the saved plan (said on stderr)."""
    if not targets:
        return plan
    part = within(plan, parse_selectors(targets))
    click.echo(
        f"--target: {len(part.changes)} of the saved plan's {len(plan.changes)} change(s), "
        f"{len(part.requests)} of its {len(plan.requests)} request(s)",
        err=True,
    )
    return part


def _finish(
    plan: Plan, report: ApplyReport, fmt: str, run_id: str, fail_on_blocked: bool, strict: bool
) -> NoReturn:
    if fmt == "json":
        render_report_json(plan, report, sys.stdout, run_id=run_id)
    else:
        render_report(plan, report, sys.stdout)
    _finished()
    code = for_apply(plan, report, fail_on_blocked=fail_on_blocked, strict=strict)
    if code is ExitCode.REFUSED and fail_on_blocked and plan.blocked:
        sys.stdout.flush()
        click.echo(f"refused: {printable(blocked_reason(plan))}", err=True)
    _exit(code)


# -- audit --------------------------------------------------------------------------------------


def _write_report(result: AuditResult, fmt: str, out: Path) -> None:
    try:
        with report_file(out) as fh:
            render_audit(result, fh, fmt)
    except OSError as error:
        _fail(f"cannot write the report to {printable(str(out))}: {error.strerror or error}")


def _evidence_key() -> bytes | None:
    """The key that signs and checks evidence manifests; never printed, never written."""
    return os.environ.get(KEY_ENV, "").encode("utf-8") or None


def _write_evidence(result: AuditResult, folder: Path) -> None:
    """Every format beside the snapshot, then the manifest over all of them."""
    written = []
    for fmt, name in EVIDENCE_NAMES.items():
        _write_report(result, fmt, folder / name)
        written.append(folder / name)
    if result.snapshot is not None:
        snapshot = Path(result.snapshot.path)
        written += [snapshot, manifest_path(snapshot)]
    try:
        manifest = write_manifest(result, folder, written, _evidence_key())
    except OSError as error:
        _fail(f"cannot write the evidence manifest in {printable(str(folder))}: {error}")
    click.echo(f"Evidence in {printable(str(folder))} ({printable(str(manifest))})", err=True)


class _AuditCommand(click.Group):
    """`audit PATH` runs an audit; `audit verify DIR` checks an evidence bundle. A click group
    takes a subcommand where this command takes PATH, so the first word decides: a subcommand's
    name (a repo of that name is reached as `./verify`), or PATH."""

    allow_interspersed_args = True  # a command's, not a group's: `audit PATH --sandbox`

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            ctx.meta[_AUDIT_SUBCOMMAND] = args
            return []
        return click.Command.parse_args(self, ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        words = ctx.meta.pop(_AUDIT_SUBCOMMAND, None)
        if words is None:
            return click.Command.invoke(self, ctx)
        name, *rest = words
        with self.commands[name].make_context(name, rest, parent=ctx) as sub:
            return sub.command.invoke(sub)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return click.Command.collect_usage_pieces(self, ctx)


_AUDIT_SUBCOMMAND = "reconciler.audit.subcommand"


class _AuditSubcontext(click.Context):
    """`reconciler audit verify`, not click's `reconciler audit [PATH] verify`: the audit's PATH
    is no part of a subcommand's path."""

    @property
    def command_path(self) -> str:
        parent = self.parent.command_path if self.parent is not None else ""
        return f"{parent} {self.info_name}".strip()


class _AuditSubcommand(click.Command):
    context_class = _AuditSubcontext


@cli.command(cls=_AuditCommand, no_args_is_help=False)
@path_argument
@sandbox_option("Audit")
@format_option(AUDIT_FORMATS, default="markdown")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (gzipped when the name ends in .gz).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="PACK",
    help="Judge with this pack instead of reconciler.yaml's (a shipped name or policies/X.yaml).",
)
@click.option(
    "--since",
    "since",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="SNAPSHOT",
    help="List what changed in Zoom since this earlier audit's snapshot (.jsonl.gz).",
)
@click.option(
    "--evidence",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write every report, the snapshot and a manifest of their sha256 into DIR.",
)
@click.option(
    "--users",
    "users",
    multiple=True,
    metavar="SELECTOR",
    help="Only these users: an email (globs: *@acme.test), user:EMAIL or group:NAME.",
)
@click.option(
    "--allow-unknown",
    is_flag=True,
    help="Do not exit 1 when a target could not be read (it is still reported).",
)
@click.option(
    "--read-all",
    is_flag=True,
    help="Read every family of every user, also those whose needed fields a lock above fixes.",
)
@quiet_option
def audit(
    path: str,
    sandbox: bool,
    fmt: str,
    out: Path | None,
    policies: tuple[str, ...],
    since: Path | None,
    evidence: Path | None,
    users: tuple[str, ...],
    allow_unknown: bool,
    read_all: bool,
    quiet: bool,
) -> None:
    """Read every target in Zoom and report drift from the repo at PATH and the rules' results."""
    files = [out] if out is not None and fmt == "json" else []
    files += [evidence / EVIDENCE_NAMES["json"]] if evidence is not None else []
    on_stdout = "json" if fmt == "json" and out is None else None
    report = _expect_report("audit", files=files, stdout=on_stdout)
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        selector = UserSelector.parse(users)
        earlier = read_header(since) if since is not None else None
        snapshots = evidence if evidence is not None else snapshot_folder(state.root)
        session = loop.session(state, sandbox)
        if earlier is not None:
            check_same_account(earlier, session.account_id)
        with _progress("audit", session, quiet) as progress:
            done = loop.run(
                run_audit(
                    state, session, policies=policies, users=selector,
                    snapshot_dir=snapshots, progress=progress, read_all=read_all,
                )
            )  # fmt: skip
        result = done.result
        if since is not None and result.snapshot is not None:
            result.since = since_report(since, Path(result.snapshot.path))
    if out is not None:
        _write_report(result, fmt, out)
    else:
        render_audit(result, sys.stdout, fmt)
        sys.stdout.flush()
        report.stdout = None  # the report is out: a later failure is the line on stderr
    if evidence is not None:
        _write_evidence(result, evidence)
    elif result.snapshot is not None:
        click.echo(f"Snapshot: {printable(result.snapshot.path)}", err=True)
    report.done = True
    sarif_note = roll_up_note(result) if fmt == "sarif" or evidence is not None else None
    if sarif_note is not None:
        click.echo(f"note: {printable(sarif_note)}", err=True)
    _warn(done.warnings, path)
    unknown = len(result.unknown_targets)
    if unknown:
        click.echo(
            f"error: {unknown} target(s) could not be read; they are UNKNOWN, "
            "neither compliant nor drifted",
            err=True,
        )
    _exit(for_audit(result, allow_unknown=allow_unknown))


@click.command("verify", cls=_AuditSubcommand)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
def audit_verify(folder: Path) -> None:
    """Check an evidence bundle against its manifest: every listed file there and unedited, no
    file there unlisted; with RECONCILER_EVIDENCE_KEY set, its signature too. Exit 0 verified,
    3 altered (a line per file), 1 unreadable."""
    with _failures(str(folder)):
        found = verify(folder, _evidence_key())
    if not found.signature_checked:
        click.echo(
            f"note: the manifest's signature was not checked: {KEY_ENV} is not set", err=True
        )
    for problem in found.problems:
        click.echo(f"altered: {printable(problem)}")
    if found.problems:
        _exit(ExitCode.REFUSED)
    click.echo(f"Verified: {found.checked} files match the manifest in {printable(str(folder))}")
    _exit(ExitCode.OK)


assert isinstance(audit, _AuditCommand)
audit.add_command(audit_verify)


# -- export -------------------------------------------------------------------------------------


def _export_scope(account: bool, groups: str | None, users: tuple[str, ...]) -> ExportScope:
    """No target option: everything. Otherwise only what the options name."""
    if not account and groups is None and not users:
        return ExportScope()
    names = (
        None if groups in (None, "*") else tuple(n.strip() for n in groups.split(",") if n.strip())
    )
    return ExportScope(
        account=account,
        groups=names if groups is not None else (),
        users=UserSelector.parse(users),
        all_users=False,
    )


@cli.command()
@path_argument
@sandbox_option("Export from")
@click.option("--account", "only_account", is_flag=True, help="Export the account file.")
@click.option(
    "--groups",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[NAMES]",
    help="Export group files: all, or these comma-separated names (globs allowed).",
)
@click.option(
    "--users",
    "users",
    multiple=True,
    metavar="SELECTOR",
    help="Export these users' files: an email (globs: *@acme.test), user:EMAIL or group:NAME.",
)
@click.option(
    "--families",
    multiple=True,
    type=click.Choice(
        ["settings", "meeting_security", "meeting_authentication", "recording_authentication"]
    ),
    help="Only these option families (repeatable) [default: all four].",
)
@click.option(
    "--fields",
    multiple=True,
    metavar="PATHS",
    help="Only fields matching these dotted paths (globs: settings.in_meeting.*), repeatable.",
)
@click.option("--managed-only", is_flag=True, help="Only update keys the files already name.")
@click.option("--all-fields", is_flag=True, help="Write every settable field, inherited or not.")
@click.option(
    "--remedy",
    metavar="PACK[,PACK]",
    help="Write the fewest edits that make every failing rule of the packs pass, each at the"
    " highest layer that decides it.",
)
@click.option(
    "--level",
    type=click.Choice(["account", "group"]),
    help="With --remedy: the layer to write remedies at [default: the highest that decides].",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@quiet_option
def export(
    path: str,
    sandbox: bool,
    only_account: bool,
    groups: str | None,
    users: tuple[str, ...],
    families: tuple[str, ...],
    fields: tuple[str, ...],
    managed_only: bool,
    all_fields: bool,
    remedy: str | None,
    level: Any,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Write the settings repo at PATH from the live account (only what each target does not
    inherit), or bring live values back into the files it has."""
    if sum([bool(fields), managed_only, all_fields]) > 1:
        _fail("--fields, --managed-only and --all-fields do not go together; pick one")
    if level is not None and remedy is None:
        _fail("--level goes with --remedy PACK (the layer remedies are written at); drop it")
    mode: Mode = "managed" if managed_only else "all" if all_fields else "differences"
    with _failures(path), _Loop() as loop:
        Path(path).mkdir(parents=True, exist_ok=True)
        state = load_repo(path)
        options = ExportOptions(
            _export_scope(only_account, groups, users), family_keys(families), mode, fields
        )
        packs = None if remedy is None else packs_for(state, _pack_names(remedy))
        session = loop.session(state, sandbox)
        summary: list[str] = []
        if packs is not None:
            report, _remedies, summary = loop.run(
                run_remedy(state, session, packs, level, dry_run=dry_run)
            )
        else:
            with _progress("export", session, quiet) as progress:
                report = loop.run(
                    run_export(state, session, options, dry_run=dry_run, progress=progress)
                )
        if not dry_run and report.written:
            load_repo(path)  # what was written must load; a failure here is a bug, shown as such
    for line in report.lines:
        click.echo(printable(line))
    for line in summary:
        click.echo(printable(line), err=True)
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"{len(report.written)} file(s) {verb} ({report.keys_written} key(s)), "
        f"{report.unchanged} unchanged; {report.requests_sent} requests",
        err=True,
    )
    for item in report.skipped:
        click.echo(f"warning: not exported: {printable(item)}", err=True)
    for item in report.kept:
        click.echo(f"warning: {printable(item)}", err=True)
    for item in report.unknown:
        click.echo(f"error: not exported: {printable(item)}", err=True)
    _exit(ExitCode.ERROR if report.unknown else ExitCode.OK)


def _pack_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        _fail(f"--remedy {quoted(value)}: name packs separated by commas, e.g. cis-zoom-1.0")
    return names


def main() -> None:
    """The entry point: no Python traceback reaches a user unless they ask with --debug."""
    debug = "--debug" in sys.argv[1:]
    args = [arg for arg in sys.argv[1:] if arg != "--debug"]
    try:
        cli.main(args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("Aborted; nothing more was sent.", err=True)
        sys.exit(int(ExitCode.ERROR))
    except click.ClickException as bad:  # a bad value on the command line: bad input, exit 1
        bad.show()
        sys.exit(int(ExitCode.ERROR))
    except ReconcilerError as error:  # a command that did not catch its own
        _report_failure(error, ExitCode.ERROR)
        click.echo(f"error: {printable(str(error))}", err=True)
        sys.exit(int(ExitCode.ERROR))
    except OSError as error:
        where = f" ({printable(str(error.filename))})" if error.filename else ""
        line = f"{error.strerror or type(error).__name__}{where}"
        _report_failure(ReconcilerError(line), ExitCode.ERROR)
        click.echo(f"error: {line}", err=True)
        sys.exit(int(ExitCode.ERROR))
    except Exception as bug:
        what = printable(f"{type(bug).__name__}: {bug}", 200)
        line = f"unexpected {what} (a bug; run again with --debug for the traceback)"
        _report_failure(ReconcilerError(line), ExitCode.ERROR)
        if debug:
            traceback.print_exc()
        else:
            click.echo(f"error: {line}", err=True)
        sys.exit(int(ExitCode.ERROR))
