"""Folders only this user may enter: `.reconciler/` holds the run lock, the audit log, snapshots
and the sandbox's state, which another local user must not swap or read."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o700


def private_folder(folder: Path) -> None:
    """`folder` (and any missing parent) made 0700, whatever the umask: mkdir's mode passes
    through the umask, chmod does not. A folder already there is left as it is."""
    missing: list[Path] = []
    here = folder
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    folder.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, PRIVATE)
