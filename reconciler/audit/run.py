"""The audit use case, one run on a session: the packs, the acknowledgements, the snapshot, the
result with what an auditor needs to tie it to its inputs (account, times, repo commit, tool
version, the sha256 of every rule file), what changed `--since` an earlier snapshot, and the
`--evidence` bundle.

The bundle holds every format of the report, and the renderers sit above this module in the
import layers (`reconciler.render` reads audit results; it must not be read by what makes them).
So the caller passes the renderer in (`Evidence.render`, in practice `render_audit`): the use case
decides what is written, where and in what order; the renderer only turns a result into text.
Nothing here prints.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from reconciler import __version__
from reconciler.audit.changed_by import read_known_changes
from reconciler.audit.engine import Auditor, AuditSettings
from reconciler.audit.evidence import write_manifest
from reconciler.audit.model import AuditResult, PackInfo, SinceReport, Where
from reconciler.audit.snapshot import SnapshotHeader, SnapshotWriter, compare, manifest_path
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.acknowledged import expired_problems
from reconciler.desired.git import repo_commit
from reconciler.desired.problems import Spot, problem, sorted_problems
from reconciler.desired.selection import Selection
from reconciler.diagnostic import Diagnostic, Severity
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.escape import printable
from reconciler.policy import Engine, Pack, load_selected, repo_selections, selection_for
from reconciler.policy.packs import SHIPPED, shipped_file
from reconciler.targets import UserSelector
from reconciler.usecase import Phases, no_phases
from reconciler.vocab import ProgressHook


@dataclass
class AuditRun:
    result: AuditResult
    warnings: list[Diagnostic]
    manifest: Path | None = None  # the evidence bundle's manifest, when one was written


# The renderer of one format: (result, where to, format); `render.audit.render_audit`.
AuditRenderer = Callable[[AuditResult, TextIO, str], None]


@dataclass(frozen=True)
class Evidence:
    """`--evidence DIR`: every format (`names`: format to file name) beside the snapshot, then a
    manifest of their sha256 over all of them, signed with `key` when there is one."""

    folder: Path
    render: AuditRenderer
    names: Mapping[str, str]
    key: bytes | None = None


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


def write_report(result: AuditResult, render: AuditRenderer, fmt: str, out: Path) -> None:
    """One format of the report into `out` (ReconcilerError, naming it, if it cannot be)."""
    try:
        with report_file(out) as fh:
            render(result, fh, fmt)
    except OSError as error:
        raise ReconcilerError(
            f"cannot write the report to {printable(str(out))}: {error.strerror or error}"
        ) from None


def write_evidence(result: AuditResult, evidence: Evidence) -> Path:
    """Every format beside the snapshot, then the manifest over all of them; its path."""
    folder, written = evidence.folder, []
    for fmt, name in evidence.names.items():
        write_report(result, evidence.render, fmt, folder / name)
        written.append(folder / name)
    if result.snapshot is not None:
        snapshot = Path(result.snapshot.path)
        written += [snapshot, manifest_path(snapshot)]
    try:
        return write_manifest(result, folder, written, evidence.key)
    except OSError as error:
        raise ReconcilerError(
            f"cannot write the evidence manifest in {printable(str(folder))}: {error}"
        ) from None


def _nothing_delivered(result: AuditResult) -> None:
    del result


SNAPSHOTS = Path(".reconciler") / "snapshots"


def snapshot_folder(repo: Path) -> Path:
    """Where an audit without --evidence keeps its snapshot."""
    return repo / SNAPSHOTS


def check_same_account(earlier: SnapshotHeader, account_id: str) -> None:
    """Before reading Zoom: a --since snapshot of another account compares nothing."""
    if earlier.account_id != account_id:
        raise ConfigError(
            f"snapshot {earlier.path} is of account {earlier.account_id}, "
            f"this audit reads account {account_id}",
            hint="pass a snapshot of the same account",
        )


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def snapshot_name(started_at: str) -> str:
    """A file name from the start time that sorts in time order and is valid everywhere."""
    return started_at.replace(":", "-").replace("+00-00", "Z") + ".jsonl.gz"


def pack_info(
    state: DesiredState, selections: list[Selection], packs: list[Pack]
) -> list[PackInfo]:
    found = []
    for selection, pack in zip(selections, packs, strict=True):
        name = selection.pack
        path = shipped_file(name) if name in SHIPPED else state.root / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        spot = selection.source()
        enabled_at = Where(spot.file, spot.line, spot.col) if spot is not None else None
        info = PackInfo(
            pack.name, pack.title, pack.file, digest, pack.benchmark, pack.manual, enabled_at
        )
        found.append(info)
    return found


def _selections(state: DesiredState, policies: tuple[str, ...]) -> list[Selection]:
    """The packs named on the command line (filtered as the repo filters them, where it enables
    them too), else the repo's."""
    if not policies:
        return list(repo_selections(state))
    return [selection_for(state, name) or Selection(name) for name in policies]


async def run_audit(
    state: DesiredState,
    session: Session,
    *,
    policies: tuple[str, ...] = (),
    users: UserSelector | None = None,
    snapshot_dir: Path | None = None,
    today: date | None = None,
    phases: Phases = no_phases,
    read_all: bool = False,
    since: SnapshotHeader | None = None,
    evidence: Evidence | None = None,
    delivered: Callable[[AuditResult], None] = _nothing_delivered,
) -> AuditRun:
    """`read_all`: read every family of every user, none inferred from the locks above.

    `since`: the header of an earlier snapshot (read by the caller before the session was
    opened, so a bad file fails before Zoom is asked): of another account it is refused before
    anything is read, else the result lists what changed since it. `evidence`: the snapshot goes
    into its folder (not `snapshot_dir`), and once the result is `delivered` (the caller's own
    report first: its reader waits on it) the bundle is written."""
    if since is not None:
        check_same_account(since, session.account_id)
    if evidence is not None:
        snapshot_dir = evidence.folder
    with phases("audit", session) as progress:
        done = await _audit(
            state, session, policies, users, snapshot_dir, today, progress, read_all
        )
    result = done.result
    result.known_changes = read_known_changes(state.root)
    if result.known_changes.problem is not None:
        done.warnings.append(
            Diagnostic("watch-record", Severity.WARNING, result.known_changes.problem)
        )
    if since is not None and result.snapshot is not None:
        result.since = since_report(Path(since.path), Path(result.snapshot.path))
    delivered(result)
    if evidence is not None:
        done.manifest = write_evidence(result, evidence)
    return done


async def _audit(
    state: DesiredState,
    session: Session,
    policies: tuple[str, ...],
    users: UserSelector | None,
    snapshot_dir: Path | None,
    today: date | None,
    progress: ProgressHook,
    read_all: bool,
) -> AuditRun:
    selections = _selections(state, policies)
    names = [selection.pack for selection in selections]
    packs = load_selected(selections, repo=state.root) if selections else []
    engine = Engine(packs) if packs else None
    started = now()
    shipped = frozenset(p.name for n, p in zip(names, packs, strict=True) if n in SHIPPED)
    settings = AuditSettings(today or datetime.now(UTC).date(), users, shipped, read_all)
    requests_before = session.zoom.counters.requests
    writer = None
    if snapshot_dir is not None:
        writer = SnapshotWriter(snapshot_dir / snapshot_name(started), session.account_id, started)
    auditor = Auditor(
        state, session.reader, engine, settings, workers=session.workers, snapshot=writer,
        progress=progress,
    )  # fmt: skip
    try:
        result = await auditor.run()
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    result.finished_at = now()
    if writer is not None:
        result.snapshot = writer.close(result.finished_at)
    result.started_at = started
    result.account_id = session.account_id
    result.repo_path = str(state.root)
    result.repo_commit = repo_commit(state.root)
    result.tool_version = __version__
    result.packs = pack_info(state, selections, packs)
    result.requests_sent = session.zoom.counters.requests - requests_before
    return AuditRun(result, auditor.warnings)


def acknowledgement_problems(
    state: DesiredState, engine: Engine | None, today: date
) -> list[ConfigError]:
    """`validate`'s checks of acknowledged.yaml that need the day or the packs: an expired entry,
    and a rule that no enabled pack has (a typo would accept nothing, silently)."""
    problems = expired_problems(list(state.acknowledged), today)
    codes = {rule.code for rule in engine.rules} if engine else set()
    for entry in state.acknowledged:
        if entry.rule is not None and entry.rule not in codes:
            close = difflib.get_close_matches(entry.rule, sorted(codes), n=1)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "rules are PACK/ID of the packs reconciler.yaml enables"
            )
            problems.append(
                problem(
                    entry.file, Spot(entry.line, 1), (),
                    f"the acknowledgement names rule {entry.rule}, which no enabled pack has",
                    hint,
                )
            )  # fmt: skip
    return sorted_problems(problems)


def since_report(earlier: Path, current: Path) -> SinceReport:
    """`compare`, with each lock family named as the repo's YAML names it (`locks`,
    `locks.meeting_security`): snapshots keep families by their repo keys."""
    report = compare(earlier, current)
    for index, change in enumerate(report.changes):
        if change.family == "locks.settings":
            report.changes[index] = replace(change, family="locks")
    return report
