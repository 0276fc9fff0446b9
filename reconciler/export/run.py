"""One export on a session: what each file should say, written through the one YAML writer.

New files get the `yaml-language-server` header and the repo's editor schemas beside them
(`schemas/repo/`, written when missing); existing files are edited in place. Paths are the
tool's own (`account.yaml`, `groups/NAME.yaml`, `users/EMAIL.yaml`, or the file the repo already
uses), never through a symbolic link.

Names come from Zoom, so none is trusted: a file name the loader would not read
(`settings_path_problem`, the loader's own rule), two targets that would share one file, or a
file the loader would refuse, leaves that target out with a warning and exports the rest. The
files are then written all at once or not at all (`export.stage`).

`run_export` is the use case (`reconciler export`): the request checked, the files written from
the live account or the remedies of the packs, then the repo loaded again. It prints nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.connect import Session
from reconciler.desired import DesiredState, load_repo, yamlfile
from reconciler.desired.models import FileKind
from reconciler.desired.repo import check_file, load_tree, settings_path_problem, too_big
from reconciler.desired.state import nest
from reconciler.desired.writer import (
    FileChange,
    render_new,
    schema_header,
    summary_lines,
    update_text,
)
from reconciler.desired.yamlfile import Document
from reconciler.diff import MISSING
from reconciler.errors import ConfigError, ReconcilerError, ValidationFailed
from reconciler.escape import printable, quoted
from reconciler.export.engine import (
    Exporter,
    ExportOptions,
    ExportScope,
    Mode,
    TargetFile,
    family_keys,
)
from reconciler.export.remedy import Remedies, find_remedies, packs_for, remedy_summary
from reconciler.export.stage import StagedTree, commit
from reconciler.policy import Pack
from reconciler.targets import UserSelector
from reconciler.usecase import Phases, SessionSource, no_phases, session_of
from reconciler.vocab import Level, ProgressHook, no_progress


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # files created or changed
    unchanged: int = 0
    lines: list[str] = field(default_factory=list)  # the diff-like summary
    unknown: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # targets whose name no file can hold
    kept: list[str] = field(default_factory=list)  # shared layers' fields left as they are, why
    keys_written: int = 0
    requests_sent: int = 0


def planned_text(
    root: Path, target: TargetFile, add_missing: bool
) -> tuple[str | None, list[FileChange]]:
    """The file's new text (None: leave it) and the changes it holds."""
    if target.exists:
        text = (root / target.file).read_bytes().decode("utf-8")  # keeps \r\n line ends
        new, changes = update_text(text, target.edits, add_missing=add_missing, file=target.file)
        return (new if changes else None), changes
    if not add_missing or not target.edits:
        return None, []
    document = {**target.top, **nest({edit.path: edit.value for edit in target.edits})}
    text = render_new(schema_header(target.header_schema), document)
    return text, [FileChange(edit.path, MISSING, edit.value) for edit in target.edits]


@dataclass(frozen=True)
class ExportRequest:
    """What one export is asked for (the command line's options). No target: everything."""

    account: bool = False
    groups: str | None = None  # "*": every group; else comma-separated names (globs)
    users: tuple[str, ...] = ()  # selectors
    families: tuple[str, ...] = ()  # the repo's keys; none: all four
    fields: tuple[str, ...] = ()  # globs over dotted paths
    managed_only: bool = False
    all_fields: bool = False
    remedy: str | None = None  # PACK[,PACK]: the remedies of these packs instead
    level: Level | None = None  # with remedy: the layer to write them at
    dry_run: bool = False

    def __post_init__(self) -> None:
        if sum([bool(self.fields), self.managed_only, self.all_fields]) > 1:
            raise ReconcilerError(
                "--fields, --managed-only and --all-fields do not go together; pick one"
            )
        if self.level is not None and self.remedy is None:
            raise ReconcilerError(
                "--level goes with --remedy PACK (the layer remedies are written at); drop it"
            )

    def options(self) -> ExportOptions:
        """ConfigError for a selector or a family that is not one."""
        mode: Mode = "managed" if self.managed_only else "all" if self.all_fields else "differences"
        return ExportOptions(self.scope(), family_keys(self.families), mode, self.fields)

    def scope(self) -> ExportScope:
        if not self.account and self.groups is None and not self.users:
            return ExportScope()
        groups: tuple[str, ...] | None = ()  # no --groups: none
        if self.groups == "*":
            groups = None  # --groups alone: every one
        elif self.groups is not None:
            groups = tuple(name.strip() for name in self.groups.split(",") if name.strip())
        return ExportScope(
            account=self.account,
            groups=groups,
            users=UserSelector.parse(self.users),
            all_users=False,
        )

    def pack_names(self) -> list[str] | None:
        if self.remedy is None:
            return None
        names = [name.strip() for name in self.remedy.split(",")]
        if not all(names):
            raise ReconcilerError(
                f"--remedy {quoted(self.remedy)}: name packs separated by commas, e.g. cis-zoom-1.0"
            )
        return names


@dataclass
class ExportRun:
    report: ExportReport
    summary: list[str]  # the remedies' lines (none for a plain export)


def open_repo(path: str | Path) -> DesiredState:
    """The repo to export into, its folder made when it is not there yet."""
    Path(path).mkdir(parents=True, exist_ok=True)
    return load_repo(path)


async def run_export(
    state: DesiredState,
    session: Session | SessionSource,
    request: ExportRequest,
    *,
    phases: Phases = no_phases,
) -> ExportRun:
    """The export the request asks for; the repo loaded again after anything was written (it
    must load: a failure there is a bug, raised as it is). Bad options are refused before the
    session is opened, when `session` is its source."""
    options = request.options()
    names = request.pack_names()
    packs = None if names is None else packs_for(state, names)
    session = await session_of(session)
    summary: list[str] = []
    if packs is not None:
        report, _remedies, summary = await run_remedy(
            state, session, packs, request.level, dry_run=request.dry_run
        )
    else:
        with phases("export", session) as progress:
            report = await export_files(
                state, session, options, dry_run=request.dry_run, progress=progress
            )
    if not request.dry_run and report.written:
        load_repo(state.root)
    return ExportRun(report, summary)


async def export_files(
    state: DesiredState,
    session: Session,
    options: ExportOptions,
    *,
    dry_run: bool = False,
    progress: ProgressHook = no_progress,
) -> ExportReport:
    before = session.zoom.counters.requests
    exporter = Exporter(state, session.reader, options, workers=session.workers, progress=progress)
    targets = await exporter.run()
    report = ExportReport(unknown=exporter.read.unknown, kept=exporter.read.kept)
    report.requests_sent = session.zoom.counters.requests - before
    write(state, targets, options, report, dry_run=dry_run)
    return report


def write(
    state: DesiredState,
    targets: list[TargetFile],
    options: ExportOptions,
    report: ExportReport,
    *,
    dry_run: bool,
) -> dict[str, bytes]:
    """Every file the targets ask for, or none: names and collisions checked first, each file
    rendered and checked as the loader would, the whole repo-to-be loaded, then all moved in."""
    root = state.root
    add_missing = options.mode != "managed"
    staged: dict[str, bytes] = {}
    for target in usable_targets(state, targets, report.skipped):
        raw, changes = _rendered(root, target, add_missing)
        if raw is None:
            report.unchanged += target.exists
            continue
        refused = _refusal(target, raw, state.options.max_file_bytes)
        if refused is not None:
            report.skipped.append(refused)
            continue
        staged[target.file] = raw
        report.lines += summary_lines(target.file, changes)
        report.written.append(target.file)
        report.keys_written += len(changes)
    if staged and not os.path.lexists(root / GITIGNORE):
        # `.reconciler/` holds the lock, snapshots and sandbox state: never for git.
        staged[GITIGNORE] = IGNORED
        report.written.append(GITIGNORE)
        report.lines += [GITIGNORE, "  + .reconciler/"]
    if staged:
        _loads_with(state, staged)
    if staged and not dry_run:
        commit(root, staged, schemas=any(not t.exists for t in targets if t.file in staged))
    return staged


GITIGNORE = ".gitignore"
IGNORED = b"# the run lock, snapshots and sandbox state of reconciler\n.reconciler/\n"


def usable_targets(
    state: DesiredState, targets: list[TargetFile], skipped: list[str]
) -> list[TargetFile]:
    """The targets whose file the loader reads and no other target shares; a warning in
    `skipped` for each of the others (two that share a file are both left out, never merged)."""
    by_file: dict[str, list[TargetFile]] = {}
    for target in targets:
        wrong = settings_path_problem(target.file)
        if wrong is None:
            by_file.setdefault(_same_file(target.file), []).append(target)
        else:
            skipped.append(f"{target.shown}: {_name_of(target.file)} {wrong}; {_RENAME}")
    taken = _repo_files(state)
    kept: list[TargetFile] = []
    for key, sharing in by_file.items():
        owner = None if sharing[0].exists else taken.get(key)
        if len(sharing) == 1 and owner is None:
            kept.append(sharing[0])
        else:
            skipped.append(_collision(sharing, owner))
    return kept


_RENAME = "rename it in Zoom to export it"
_OWN_FILE = ", or write its file by hand under another name with a group: key"


def _collision(sharing: list[TargetFile], owner: str | None) -> str:
    """One warning naming every target that would be written to one file."""
    file = printable(sharing[0].file)
    if len(sharing) == 1:
        return (
            f"{sharing[0].shown}: would be written to {file}, {owner}; it is not exported"
            f" ({_RENAME}{_OWN_FILE if sharing[0].level == 'group' else ''})"
        )
    held = f", {owner}" if owner else ""
    every = "both" if len(sharing) == 2 else "all"
    return (
        f"{' and '.join(t.shown for t in sharing)}: would {every} be written to {file}{held};"
        " none is exported (rename all but one in Zoom to export them)"
    )


def _name_of(rel: str) -> str:
    folder, _, name = rel.rpartition("/")
    shown = rel if folder not in ("", "groups", "users") else name.removesuffix(".yaml")
    return f"the file name {quoted(shown)}"


def _same_file(rel: str) -> str:
    """Files that are one to the loader: user files are by email, and emails ignore case."""
    return rel.lower() if rel.startswith("users/") else rel


def _repo_files(state: DesiredState) -> dict[str, str]:
    """The repo's settings files, each with who it holds (a new file must not take one's place)."""
    found = {
        _same_file(g.file): f"the repo's file for group {quoted(g.name)}"
        for g in state.groups.values()
    }
    found.update(
        {
            _same_file(u.file): f"the repo's file for user {quoted(u.email)}"
            for u in state.users.values()
        }
    )
    return found


def _rendered(
    root: Path, target: TargetFile, add_missing: bool
) -> tuple[bytes | None, list[FileChange]]:
    """`planned_text` as the bytes to write; a file that cannot be written stops the export."""
    try:
        text, changes = planned_text(root, target, add_missing)
        return (None if text is None else text.encode("utf-8")), changes
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        raise ConfigError(
            f"nothing was written: {target.shown}: its file {printable(target.file)} cannot be"
            f" written: {printable(str(exc), 120)}"
        ) from None


def _refusal(target: TargetFile, raw: bytes, limit: int) -> str | None:
    """Why the loader would refuse the file as rendered (a value or name it does not accept)."""
    if len(raw) > limit:
        return f"{target.shown}: {printable(target.file)}: {too_big(len(raw), limit).message}"
    kind: FileKind = target.kind or target.level
    _checked, found = check_file(target.file, raw, kind)
    return f"{target.shown}: the loader would refuse its file: {found[0]}" if found else None


def _loads_with(state: DesiredState, staged: dict[str, bytes]) -> None:
    """The repo as it will be loads, or nothing is written."""
    try:
        load_tree(StagedTree(state.root, staged), state.root)
    except ValidationFailed as failed:
        raise ConfigError(
            f"nothing was written: the repo would not load after export: {failed.problems[0]}"
        ) from None


async def run_remedy(
    state: DesiredState,
    session: Session,
    packs: list[Pack],
    level: Level | None,
    *,
    dry_run: bool,
) -> tuple[ExportReport, Remedies, list[str]]:
    """The remedy planner's edits written (or shown), and its summary lines."""
    before = session.zoom.counters.requests
    remedies = await find_remedies(state, session, packs, level)
    report = ExportReport(unknown=list(remedies.unknown))
    staged = write(state, remedies.targets, ExportOptions(), report, dry_run=dry_run)
    report.requests_sent = session.zoom.counters.requests - before
    lines = list(remedy_summary(remedies, _key_lines(state.root, remedies, staged)))
    return report, remedies, lines


def _key_lines(
    root: Path, remedies: Remedies, staged: dict[str, bytes]
) -> dict[tuple[str, tuple[str, ...]], int]:
    """The line of each key the remedies wrote, in the file as it is now (or will be)."""
    found: dict[tuple[str, tuple[str, ...]], int] = {}
    documents: dict[str, Document | None] = {}
    for placement in remedies.placed:
        for file, path in placement.files:
            if file not in documents:
                documents[file] = _document(root, file, staged.get(file))
            document = documents[file]
            if document is not None:
                found[(file, path)] = document.spot(path, key=True).line
    return found


def _document(root: Path, file: str, raw: bytes | None) -> Document | None:
    try:
        data = raw if raw is not None else (root / file).read_bytes()
    except OSError:
        return None
    document, problems = yamlfile.read(file, data)
    return None if problems else document
