"""Which files a desired state was loaded from, each with its sha256: what a saved plan is bound
to, so that apply can tell a plan made from another state of the repo (and name the files)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from reconciler.desired.repo import OPTIONS_FILE
from reconciler.desired.state import DesiredState


def source_files(state: DesiredState) -> list[str]:
    """The repo-relative paths of every file the state came from."""
    files = [OPTIONS_FILE] if (state.root / OPTIONS_FILE).is_file() else []
    files += [state.account.file] if state.account else []
    files += [state.defaults_file] if state.defaults_file else []
    files += [group.file for group in state.groups.values()]
    files += [user.file for user in state.users.values()]
    return sorted(files)


def fingerprint(state: DesiredState) -> dict[str, str]:
    """Path -> sha256 of its bytes, for every file the state came from."""
    found = {}
    for relative in source_files(state):
        found[relative] = hashlib.sha256((state.root / relative).read_bytes()).hexdigest()
    return found


def changed_files(saved: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """`users/bob@acme.test.yaml (changed)`, `... (added)`, `... (removed)`, sorted."""
    changed = [f"{path} (changed)" for path in saved if path in now and saved[path] != now[path]]
    changed += [f"{path} (added)" for path in now if path not in saved]
    changed += [f"{path} (removed)" for path in saved if path not in now]
    return sorted(changed)
