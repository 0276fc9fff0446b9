"""All or nothing: the files of one export staged in a fresh folder, checked, then moved in.

Every file is first written into a folder of its own under the repo's `.reconciler/` (the same
file system as the repo, so each move is a rename); only once all of them are there are they moved
into place, a file over its old self or a new folder whole. A failure before the moves leaves the
repo as it was. Before anything is staged, the loader reads the repo as it will be
(`StagedTree`), so what export writes is a repo that `validate` accepts, or nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from reconciler.desired.editor_schemas import write_schemas
from reconciler.desired.repo import Entry, FileTree, too_big
from reconciler.errors import ConfigError
from reconciler.private import private_folder

STATE_DIR = ".reconciler"
SCHEMAS = Path("schemas") / "repo"
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class StagedTree:
    """The repo on disk with the staged files in their places: what the loader checks first."""

    def __init__(self, root: Path, staged: Mapping[str, bytes]) -> None:
        self.disk = FileTree(root)
        self.staged = staged
        self.folders = {rel.rpartition("/")[0] for rel in staged} - {""}

    def entry(self, rel: str) -> Entry | None:
        if rel in self.staged:
            return Entry(rel, "file", "a file")
        found = self.disk.entry(rel)
        if found is None and rel in self.folders:
            return Entry(rel, "folder", "a folder")
        return found

    def entries(self, folder: str) -> list[Entry]:
        try:
            found = {entry.rel: entry for entry in self.disk.entries(folder)}
        except FileNotFoundError:  # a folder only the stage has
            found = {}
        for rel in self.staged:
            if rel.rpartition("/")[0] == folder:
                found[rel] = Entry(rel, "file", "a file")
        if folder == "":
            for new in self.folders - set(found):
                found[new] = Entry(new, "folder", "a folder")
        return [found[rel] for rel in sorted(found)]

    def read(self, rel: str, limit: int) -> bytes:
        raw = self.staged.get(rel)
        if raw is None:
            return self.disk.read(rel, limit)
        if len(raw) > limit:
            raise too_big(len(raw), limit)
        return raw


def commit(root: Path, staged: Mapping[str, bytes], *, schemas: bool) -> None:
    """Stage every file (and the editor schemas, if `schemas` and the repo has none: new files
    point at them), then move them into place."""
    stage = Path(tempfile.mkdtemp(prefix="export-", dir=_state_dir(root)))
    try:
        for rel, raw in staged.items():
            _stage_file(stage / rel, raw)
        if schemas and not (root / SCHEMAS).exists():
            write_schemas(stage / SCHEMAS)
        for check_only in (True, False):  # every folder checked before the first move
            for child in sorted(stage.iterdir()):
                _move(child, root / child.name, root, check_only=check_only)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _state_dir(root: Path) -> Path:
    """The repo's own `.reconciler/`, a real folder (a link could lead to another file system)."""
    folder = root / STATE_DIR
    try:
        private_folder(folder)
        mode = folder.lstat().st_mode
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot stage the export there: {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(
            f"{folder}: not a folder; export stages its files there",
            hint=f"make {STATE_DIR} a plain folder",
        )
    return folder


def _stage_file(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, _NEW_FILE, 0o644), "wb") as out:
        out.write(raw)


def _move(source: Path, target: Path, root: Path, *, check_only: bool) -> None:
    """A staged file over its old self, or a staged folder whole where the repo has none."""
    if source.is_dir() and os.path.lexists(target):
        if target.is_symlink() or not target.is_dir():
            where = target.relative_to(root)
            raise ConfigError(f"{where}: not a real folder; export writes only into real folders")
        for child in sorted(source.iterdir()):
            _move(child, target / child.name, root, check_only=check_only)
    elif not check_only:
        os.replace(source, target)  # a rename: never through a link at `target`, never half a file
