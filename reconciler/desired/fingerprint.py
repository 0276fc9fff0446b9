"""Which files a desired state was loaded from, each with its sha256: what a saved plan is bound
to, so that apply can tell a plan made from another state of the repo (and name the files)."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.desired.state import DesiredState


def fingerprint(state: DesiredState) -> dict[str, str]:
    """Path -> sha256 of its bytes, for every file the state came from, as the loader read them
    (the files are not read again: a file swapped since would not be what was checked)."""
    return dict(sorted(state.file_digests.items()))


def changed_files(saved: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """`users/bob@acme.test.yaml (changed)`, `... (added)`, `... (removed)`, sorted."""
    changed = [f"{path} (changed)" for path in saved if path in now and saved[path] != now[path]]
    changed += [f"{path} (added)" for path in now if path not in saved]
    changed += [f"{path} (removed)" for path in saved if path not in now]
    return sorted(changed)
