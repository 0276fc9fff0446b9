"""One export on a session: what each file should say, written through the one YAML writer.

New files get the `yaml-language-server` header and the repo's editor schemas beside them
(`schemas/repo/`, written when missing); existing files are edited in place. Paths are the
tool's own (`account.yaml`, `groups/NAME.yaml`, `users/EMAIL.yaml`, or the file the repo already
uses), never through a symbolic link.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.editor_schemas import write_schemas
from reconciler.desired.state import nest
from reconciler.desired.writer import (
    FileChange,
    render_new,
    schema_header,
    summary_lines,
    update_text,
)
from reconciler.diff import MISSING
from reconciler.errors import ConfigError
from reconciler.export.engine import Exporter, ExportOptions, TargetFile
from reconciler.export.remedy import Remedies, find_remedies
from reconciler.vocab import Level, ProgressHook, no_progress

SCHEMAS = Path("schemas") / "repo"


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # files created or changed
    unchanged: int = 0
    lines: list[str] = field(default_factory=list)  # the diff-like summary
    unknown: list[str] = field(default_factory=list)
    keys_written: int = 0
    requests_sent: int = 0


def _safe_relative(rel: str) -> bool:
    """A file the loader reads: at the root, or directly in groups/ or users/ (a name from
    Zoom with a slash or a leading dot would land elsewhere, or outside the repo)."""
    path = Path(rel)
    parts = path.parts
    if path.is_absolute() or "\\" in rel or any(part.startswith(".") for part in parts):
        return False
    return len(parts) == 1 or (len(parts) == 2 and parts[0] in ("groups", "users"))


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    for parent in reversed(path.relative_to(root).parents):
        folder = root / parent
        if folder.is_symlink():
            raise ConfigError(f"{parent}: a symbolic link; export writes only real folders")
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


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


async def run_export(
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
    report = ExportReport(unknown=exporter.read.unknown)
    report.requests_sent = session.zoom.counters.requests - before
    write(state.root, targets, options, report, dry_run=dry_run)
    return report


def write(
    root: Path,
    targets: list[TargetFile],
    options: ExportOptions,
    report: ExportReport,
    *,
    dry_run: bool,
) -> None:
    add_missing = options.mode != "managed"
    new_files = False
    for target in targets:
        if not _safe_relative(target.file):
            report.unknown.append(f"{target.label}: {target.file!r} is not a safe file name")
            continue
        text, changes = planned_text(root, target, add_missing)
        if text is None:
            report.unchanged += target.exists
            continue
        report.lines += summary_lines(target.file, changes)
        report.written.append(target.file)
        report.keys_written += len(changes)
        new_files = new_files or not target.exists
        if not dry_run:
            _write(root, target.file, text)
    if new_files and not dry_run and not (root / SCHEMAS).exists():
        write_schemas(root / SCHEMAS)


async def run_remedy(
    state: DesiredState, session: Session, pack: str, level: Level | None, *, dry_run: bool
) -> tuple[ExportReport, Remedies]:
    before = session.zoom.counters.requests
    remedies = await find_remedies(state, session, pack, level)
    report = ExportReport(unknown=list(remedies.unknown))
    write(state.root, remedies.targets, ExportOptions(), report, dry_run=dry_run)
    report.requests_sent = session.zoom.counters.requests - before
    return report, remedies
