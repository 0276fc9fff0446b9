"""The command line: parse, build the session, call the core, render, pick the exit code.

Nothing else prints. Each command runs on one event loop and, when it talks to Zoom, one session
(one client, one token, one pacer, one live reader) from its start to its end. The steps of a
command are its use case's, in the core (`apply.run.reconcile`, `audit.run.run_audit`,
`export.run.run_export`, `validate.run_validate`, `plan.run.make_plan`): a command body parses,
opens the session, calls one of them, renders what it returns and exits with the code
`exitcodes` picks from it. What a use case must show or ask on the way (the plan before the
confirmation, progress, the question itself) it asks for through the callbacks given here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TextIO, TypeVar

import click

from reconciler import __version__
from reconciler.apply.run import ApplyOutcome, ApplyRequest, SavedScope, reconcile
from reconciler.audit.evidence import KEY_ENV, verify
from reconciler.audit.model import AuditResult
from reconciler.audit.run import (
    AuditRun,
    Evidence,
    report_file,
    run_audit,
    snapshot_folder,
    write_report,
)
from reconciler.audit.snapshot import read_header
from reconciler.cli_options import (
    CommandWithSubcommands,
    Subcommand,
    audit_log_option,
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
from reconciler.diagnostic import Diagnostic, from_problem
from reconciler.errors import ReconcilerError, Refused, ValidationFailed
from reconciler.escape import printable
from reconciler.exitcodes import (
    ExitCode,
    for_audit,
    for_explain,
    for_outcome,
    for_plan,
    for_validation,
)
from reconciler.export.run import ExportRequest, ExportRun, open_repo, run_export
from reconciler.github.cli import github
from reconciler.plan.explain import explain as explain_field
from reconciler.plan.model import Plan
from reconciler.plan.run import make_plan, scope_for
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
from reconciler.targets import UserSelector
from reconciler.validate import Validation, run_validate
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
        """The command's one session, opened now."""
        return self.run(self.session_source(state, sandbox)())

    def session_source(
        self, state: DesiredState, sandbox: bool
    ) -> Callable[[], Coroutine[Any, Any, Session]]:
        """The command's one session, opened when the core asks for it (on this loop, held to
        the command's end): the connector the caller gave (tests), else the default."""
        found = click.get_current_context().find_object(Connector) or Connector()
        options = state.options
        reads = ReadBudget(options.read_deadline, options.read_stall)

        async def source() -> Session:
            # The account's credentials come from the environment, read here (when the core
            # asks for the session, after it has checked its input) and nowhere below.
            connector = dataclasses.replace(found, sandbox=sandbox).from_env()
            opened = connector.open(state.root, tier=options.rate_tier, reads=reads)
            return await self._stack.enter_async_context(opened)

        return source


VALIDATE_FORMATS = ("text", "json")


@cli.command()
@path_argument
@format_option(VALIDATE_FORMATS)
def validate(path: str, fmt: str) -> None:
    """Check the settings repo at PATH offline: every problem with file:line:col."""
    if fmt == "json":  # the report of a failure too: a schema missing, a file unreadable
        _expect_report("validate", files=[], stdout="json")
    with _failures(path):
        found = run_validate(path)
    code = for_validation(found)
    if fmt == "json":
        _render_validation_json(found, path, code)
    else:
        _render_validation(found, path)
    _exit(code)


def _render_validation(found: Validation, path: str) -> None:
    """Every problem, or every violation, or the one line that says it is valid."""
    if found.failed is not None:
        _report(found.failed, path)
    elif found.violations:
        out = io.StringIO()
        _emitter(path)(found.violations, out)
        click.echo(out.getvalue(), nl=False)
        click.echo(_violations_line(len(found.violations)), err=True)
    elif found.state is not None:
        click.echo(f"{printable(path)}: valid: {_summary(found.state)}")


def _violations_line(count: int) -> str:
    return f"{count} policy violation{'' if count == 1 else 's'} in what the repo asks for"


def _render_validation_json(found: Validation, path: str, code: ExitCode) -> None:
    """The same checks as `validate`, as one JSON report on stdout (the counts on stderr)."""
    if found.failed is not None:
        document = validate_json(path, None, failed=found.failed, exit_code=int(code))
        render_validate_json(document, sys.stdout)
        _finished()
        click.echo(_count(found.failed), err=True)
        return
    render_validate_json(validate_json(path, found.state, violations=found.violations), sys.stdout)
    _finished()
    if found.violations:
        click.echo(_violations_line(len(found.violations)), err=True)


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
    _render_plan(made, fmt, out, path, report, changed_since)
    _exit(for_plan(made, detailed=detailed_exitcode, strict=strict))


def _render_plan(
    made: Plan, fmt: str, out: Path | None, path: str, report: _JsonReport, since: str | None
) -> None:
    """The plan first, then it saved, then any note on stderr."""
    render(made, sys.stdout, fmt, color=_color(), changed_since=since)
    sys.stdout.flush()
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


def _confirmer(yes: bool) -> Callable[[Plan], bool]:
    """Asks on the terminal before the first request (refused where nobody can answer)."""

    def confirm(plan: Plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise Refused("not a terminal, so nobody can confirm; run with --yes")
        targets = len({request.target for request in plan.requests})
        with _interruptible():
            return click.confirm(f"Apply {len(plan.pending)} change(s) to {targets} target(s)?")

    return confirm


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C at the prompt aborts at once: the event loop's runner would only cancel its task
    (and the prompt would wait on), so Python's own handler is back while it asks."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _shower(out: TextIO, path: str) -> Callable[[Plan, SavedScope | None], None]:
    """The plan (on stderr when stdout holds the JSON report), its --target part first."""

    def shown(plan: Plan, scoped: SavedScope | None) -> None:
        if scoped is not None:
            click.echo(
                f"--target: {scoped.changes} of the saved plan's {scoped.of_changes} change(s), "
                f"{scoped.requests} of its {scoped.of_requests} request(s)",
                err=True,
            )
        render(plan, out, "text", color=_color() and out is sys.stdout)
        _warn(plan.skipped, path)

    return shown


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
@audit_log_option
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
    with _failures(path), _Loop() as loop:
        request = ApplyRequest(
            plan_file, targets, changed_since, dry_run, force, fail_fast, lock_timeout,
            timedelta(hours=max_plan_age), audit_log,
        )  # fmt: skip
        state = load_repo(path)
        done = loop.run(
            reconcile(
                state, loop.session_source(state, sandbox), request, confirm=_confirmer(yes),
                shown=_shower(out, path), phases=lambda label, on: _progress(label, on, quiet),
            )
        )  # fmt: skip
    _exit(_render_outcome(done, fmt, out, fail_on_blocked=fail_on_blocked, strict=strict))


def _render_outcome(
    done: ApplyOutcome, fmt: str, out: TextIO, *, fail_on_blocked: bool, strict: bool
) -> ExitCode:
    """The dry run's requests, the cancellation, or the apply's report; the exit code."""
    code = for_outcome(done, fail_on_blocked=fail_on_blocked, strict=strict)
    if done.would_refuse is not None:
        render_dry_run(done.plan, out, done.would_refuse)
        if fmt == "json":
            render_dry_run_json(done.plan, sys.stdout, done.would_refuse)
            _finished()
    elif done.cancelled:
        _report_failure(Refused("cancelled; nothing was sent"), code)
        click.echo("Cancelled; nothing was sent.", err=True)
    elif done.report is not None:
        if fmt == "json":
            render_report_json(done.plan, done.report, sys.stdout, run_id=done.run_id)
        else:
            render_report(done.plan, done.report, sys.stdout)
        _finished()
        if code is ExitCode.REFUSED and fail_on_blocked and done.plan.blocked:
            sys.stdout.flush()
            click.echo(f"refused: {printable(blocked_reason(done.plan))}", err=True)
    return code


# -- audit --------------------------------------------------------------------------------------


def _evidence_key() -> bytes | None:
    """The key that signs and checks evidence manifests; never printed, never written."""
    return os.environ.get(KEY_ENV, "").encode("utf-8") or None


def _audit_report(fmt: str, out: Path | None, evidence: Path | None) -> _JsonReport:
    """A failed audit's JSON report goes where the audit's would: --out, the bundle, stdout."""
    files = [out] if out is not None and fmt == "json" else []
    files += [evidence / EVIDENCE_NAMES["json"]] if evidence is not None else []
    on_stdout = "json" if fmt == "json" and out is None else None
    return _expect_report("audit", files=files, stdout=on_stdout)


def _evidence(folder: Path | None) -> Evidence | None:
    """--evidence DIR: every format the renderers write, signed with the key when it is set."""
    if folder is None:
        return None
    return Evidence(folder, render_audit, EVIDENCE_NAMES, _evidence_key())


def _deliverer(fmt: str, out: Path | None, report: _JsonReport) -> Callable[[AuditResult], None]:
    """The audit's report: into --out, or on stdout (then a later failure is a line on stderr)."""

    def deliver(result: AuditResult) -> None:
        if out is not None:
            write_report(result, render_audit, fmt, out)
            return
        render_audit(result, sys.stdout, fmt)
        sys.stdout.flush()
        report.stdout = None

    return deliver


def _audit_notes(done: AuditRun, fmt: str, path: str) -> None:
    """Where the evidence or the snapshot is, the SARIF roll-up, warnings, unread targets."""
    result = done.result
    if done.manifest is not None:
        where = f"{printable(str(done.manifest.parent))} ({printable(str(done.manifest))})"
        click.echo(f"Evidence in {where}", err=True)
    elif result.snapshot is not None:
        click.echo(f"Snapshot: {printable(result.snapshot.path)}", err=True)
    _finished()
    sarif_note = roll_up_note(result) if fmt == "sarif" or done.manifest is not None else None
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


@cli.command(cls=CommandWithSubcommands, no_args_is_help=False)
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
    report = _audit_report(fmt, out, evidence)
    with _failures(path), _Loop() as loop:
        state = load_repo(path)
        selector = UserSelector.parse(users)
        earlier = read_header(since) if since is not None else None  # bad: fails before Zoom
        session = loop.session(state, sandbox)
        done = loop.run(run_audit(
            state, session, policies=policies, users=selector,
            snapshot_dir=snapshot_folder(state.root), read_all=read_all, since=earlier,
            evidence=_evidence(evidence), delivered=_deliverer(fmt, out, report),
            phases=lambda label, on: _progress(label, on, quiet),
        ))  # fmt: skip
    _audit_notes(done, fmt, path)
    _exit(for_audit(done.result, allow_unknown=allow_unknown))


@click.command("verify", cls=Subcommand)
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


assert isinstance(audit, CommandWithSubcommands)
audit.add_command(audit_verify)


# -- export -------------------------------------------------------------------------------------


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
    with _failures(path), _Loop() as loop:
        request = ExportRequest(
            only_account, groups, users, families, fields, managed_only, all_fields, remedy,
            level, dry_run,
        )  # fmt: skip
        state = open_repo(path)
        done = loop.run(
            run_export(
                state, loop.session_source(state, sandbox), request,
                phases=lambda label, on: _progress(label, on, quiet),
            )
        )  # fmt: skip
    _render_export(done, dry_run)
    _exit(ExitCode.ERROR if done.report.unknown else ExitCode.OK)


def _render_export(done: ExportRun, dry_run: bool) -> None:
    report = done.report
    for line in report.lines:
        click.echo(printable(line))
    for line in done.summary:
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
