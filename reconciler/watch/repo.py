"""The settings repo as the watcher sees it: loaded at start, loaded again when its files change
(a merge lands while the watcher runs), judged by the digests `fingerprint` gives a plan."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reconciler.desired import DesiredState, load_repo
from reconciler.desired.fingerprint import changed_files, fingerprint
from reconciler.errors import ReconcilerError, ValidationFailed

log = logging.getLogger("reconciler.watch")
Stamp = frozenset[tuple[str, int, int]]


def _stamp(root: Path) -> Stamp:
    """(path, size, mtime) of every file outside dot-folders: cheap to take each pass, and a
    change in it is when the files are read and hashed again."""
    found: set[tuple[str, int, int]] = set()
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            found.add((os.path.join(folder, name), info.st_size, info.st_mtime_ns))
    return frozenset(found)


class WatchedRepo:
    def __init__(self, path: str) -> None:
        self.path = path
        self.state: DesiredState = load_repo(path)
        self._stamp = _stamp(self.state.root)

    def current(self) -> DesiredState:
        """The desired state now: reloaded if the files' digests changed; a repo that no longer
        loads keeps the last good state (and says so) until it is fixed."""
        stamp = _stamp(self.state.root)
        if stamp == self._stamp:
            return self.state
        self._stamp = stamp
        try:
            loaded = load_repo(self.path)
        except ReconcilerError as error:
            first = error.problems[0] if isinstance(error, ValidationFailed) else error
            log.error(
                "the settings repo no longer loads (%s); still using the last good one",
                str(first).splitlines()[0],
            )
            return self.state
        changed = changed_files(fingerprint(self.state), fingerprint(loaded))
        if changed:
            log.info("desired state reloaded: %s", ", ".join(changed))
            self.state = loaded
        return self.state
