"""Who locks what: Zoom's lock settings (live, overlaid with this plan's own lock changes) mapped
onto the settings leaves they fix, in the repo's shape.

A lock leaf locks the settings leaf of the same path (and everything below it), with two
exceptions Zoom's shapes force on us: the `meeting_security` lock family locks the
`meeting_security` settings family, whose wrapper object the repo drops; and the general locks
`schedule_meeting.meeting_authentication` and `recording.recording_authentication` lock the switch
of the authentication families.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.desired.state import Settings, leaves
from reconciler.schemas import Family, LockFamily
from reconciler.zoom import ZoomClient, get_lock_settings

LeafPath = tuple[str, ...]
_AUTH_SWITCHES: dict[LeafPath, tuple[Family, LeafPath]] = {
    ("schedule_meeting", "meeting_authentication"): (
        "meeting_authentication",
        ("meeting_authentication",),
    ),
    ("recording", "recording_authentication"): (
        "recording_authentication",
        ("recording_authentication",),
    ),
}


def locked_leaf(lock_family: LockFamily, path: LeafPath) -> tuple[Family, LeafPath]:
    """The settings family and repo-shaped path that a repo-shaped lock leaf fixes."""
    if lock_family == "meeting_security":
        return "meeting_security", path
    return _AUTH_SWITCHES.get(path, ("general", path))


def as_lock_family(family: Family) -> LockFamily:
    """Lock settings come in two families: meeting_security, and general for everything else."""
    return "meeting_security" if family == "meeting_security" else "general"


def lock_repo_shape(lock_family: LockFamily, zoom_doc: Mapping[str, Any]) -> dict[str, Any]:
    if lock_family == "meeting_security":
        return dict(zoom_doc.get("meeting_security") or {})
    return dict(zoom_doc)


async def read_lock_doc(
    zoom: ZoomClient, kind: str, target_id: str, lock_family: LockFamily
) -> dict[str, Any]:
    """One holder's live lock settings of one family, in the repo's shape."""
    doc = await get_lock_settings(zoom, kind, target_id, lock_family)  # type: ignore[arg-type]
    return lock_repo_shape(lock_family, doc)


def lock_zoom_shape(lock_family: LockFamily, body: dict[str, Any]) -> dict[str, Any]:
    return {"meeting_security": body} if lock_family == "meeting_security" else body


@dataclass(frozen=True)
class Holder:
    """A level that holds locks: the account, or a group by name."""

    kind: str
    name: str
    id: str
    file: str | None  # the repo file that manages it, if any

    def describe(self, source: str | None) -> str:
        who = "the account" if self.kind == "account" else f"group {self.name}"
        if source:
            return f"locked by {who}, {source}: change it there"
        return f"locked by {who} in Zoom (no file in this repo manages that lock)"


class LockView:
    """The leaves one holder locks once this plan's lock changes are applied."""

    def __init__(
        self,
        holder: Holder,
        live: Mapping[LockFamily, Mapping[str, Any]],
        desired: Settings | None,
        *,
        applied: bool = True,
    ) -> None:
        """`applied=False`: this run leaves the holder alone, so the repo's locks only name
        their files for the locks Zoom already has; they change nothing."""
        self.holder = holder
        self._locks: dict[tuple[Family, LeafPath], str | None] = {}
        for lock_family, doc in live.items():
            for path, value in leaves(doc):
                self._set(lock_family, path, value, None)
        self._live = frozenset(self._locks)
        if desired is not None:
            self._overlay(desired, applied)

    def _overlay(self, desired: Settings, applied: bool) -> None:
        for family in desired.families:
            lock_family = as_lock_family(family)
            for path, value in desired.flat(family).items():
                source = str(desired.source(family, path))
                if applied:
                    self._set(lock_family, path, value, source)
                elif value is True and locked_leaf(lock_family, path) in self._locks:
                    self._locks[locked_leaf(lock_family, path)] = source

    def _set(self, lock_family: LockFamily, path: LeafPath, value: Any, source: str | None) -> None:
        key = locked_leaf(lock_family, path)
        if value is True:
            self._locks[key] = source
        else:
            self._locks.pop(key, None)

    def lock_on(self, family: Family, path: LeafPath) -> tuple[bool, str | None]:
        """(locked, repo source of the lock) for a settings leaf, its parents included."""
        for key in _covering(family, path):
            if key in self._locks:
                return True, self._locks[key]
        return False, None

    def live_lock_on(self, family: Family, path: LeafPath) -> bool:
        """Whether Zoom locks the leaf today, whatever the repo says."""
        return any(key in self._live for key in _covering(family, path))


def _covering(family: Family, path: LeafPath) -> list[tuple[Family, LeafPath]]:
    """The leaf and its parents, deepest first: a lock on any of them locks the leaf."""
    return [(family, path[:depth]) for depth in range(len(path), 0, -1)]


def lock_leaf_for(
    locks: Settings, family: Family, path: LeafPath
) -> tuple[bool | None, str | None]:
    """The repo's own lock leaf over a settings leaf: (its value, its source), or (None, None)."""
    covering = set(_covering(family, path))
    for lock_family in locks.families:
        for lock_path, value in locks.flat(lock_family).items():
            if locked_leaf(as_lock_family(lock_family), lock_path) in covering:
                return value is True, str(locks.source(lock_family, lock_path))
    return None, None
