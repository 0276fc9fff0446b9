"""Who locks what: Zoom's lock settings (live, overlaid with the repo's own locks where a run
applies them) mapped onto the settings leaves they fix, in the repo's shape; and the verdict of a
lock over one field.

A lock leaf locks the settings leaf of the same path (and everything below it), with two
exceptions Zoom's shapes force on us: the `meeting_security` lock family locks the
`meeting_security` settings family, whose wrapper object the repo drops; and the general locks
`schedule_meeting.meeting_authentication` and `recording.recording_authentication` lock the switch
of the authentication families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.desired.state import Settings, leaves
from reconciler.diff import strictly_equal
from reconciler.vocab import Family, LeafPath, LockFamily, LockLevel, lock_family_of

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


ACCOUNT_ID = "me"


@dataclass(frozen=True)
class Holder:
    """A level that holds locks: the account, or a group by name."""

    kind: LockLevel
    name: str
    id: str

    @property
    def who(self) -> str:
        return "the account" if self.kind == "account" else f"group {self.name}"

    def describe(self, source: str | None) -> str:
        if source:
            return f"locked by {self.who}, {source}: change it there"
        return f"locked by {self.who} in Zoom (no file in this repo manages that lock)"


ACCOUNT = Holder("account", "account", ACCOUNT_ID)


class LockView:
    """The leaves one holder locks: Zoom's locks, with the repo's locks laid over them.

    `applied=True`: this run also applies the holder, so the repo's locks count as they will be.
    `applied=False`: the run leaves the holder alone, so the repo's locks only name their files
    for the locks Zoom already has; they change nothing.
    """

    def __init__(
        self,
        holder: Holder,
        live: Mapping[LockFamily, Mapping[str, Any]],
        desired: Settings | None,
        *,
        applied: bool = True,
    ) -> None:
        self.holder = holder
        self.applied = applied
        self._locks: dict[tuple[Family, LeafPath], str | None] = {}
        for lock_family, doc in live.items():
            for path, value in leaves(doc):
                self._set(lock_family, path, value, None)
        self._live = frozenset(self._locks)
        if desired is not None:
            self._overlay(desired, applied)

    def _overlay(self, desired: Settings, applied: bool) -> None:
        for family in desired.families:
            lock_family = lock_family_of(family)
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
            if locked_leaf(lock_family_of(lock_family), lock_path) in covering:
                return value is True, str(locks.source(lock_family, lock_path))
    return None, None


# -- the verdict of the locks above a target over one field ---------------------------------------


@dataclass(frozen=True)
class CoveringLock:
    """The highest lock above a target that covers a field: in which view, from which file."""

    view: LockView
    source: str | None

    @property
    def reason(self) -> str:
        return self.view.holder.describe(self.source)


def covering_lock(views: Iterable[LockView], family: Family, path: LeafPath) -> CoveringLock | None:
    """The first view (account first, then the primary group) that locks the field."""
    for view in views:
        locked, source = view.lock_on(family, path)
        if locked:
            return CoveringLock(view, source)
    return None


def lock_test(
    views: tuple[LockView, ...], *, live: bool = False
) -> Callable[[Family, LeafPath], bool]:
    """Whether a lock of the views fixes a leaf: as the run will leave the locks (the repo's
    overlaid where it applies them), or with `live` as Zoom has them now. What the rules' `locked`
    documents are made with (`policy.judging.locked_flags`)."""
    if live:
        return lambda family, path: any(view.live_lock_on(family, path) for view in views)
    return lambda family, path: covering_lock(views, family, path) is not None


@dataclass(frozen=True)
class NotLocked:
    """No level above locks the field: the target's own value decides."""


@dataclass(frozen=True)
class HeldAsWanted:
    """A lock above holds the field at the value the repo wants: nothing to send, no read."""

    lock: CoveringLock


@dataclass(frozen=True)
class JudgedLive:
    """Locked by a holder this run leaves alone: the target's live value is the locked one."""

    lock: CoveringLock


@dataclass(frozen=True)
class Blocked:
    """A lock above holds the field at another value: no PATCH of this target can change it."""

    lock: CoveringLock
    held: Any


LockVerdict = NotLocked | HeldAsWanted | JudgedLive | Blocked


def lock_verdict(lock: CoveringLock | None, wanted: Any, held: Any) -> LockVerdict:
    """The verdict over one field, given the covering lock and the value its holder holds.

    `held` matters only for a lock this run applies (pass anything otherwise).
    """
    if lock is None:
        return NotLocked()
    if not lock.view.applied:
        return JudgedLive(lock)
    if strictly_equal(held, wanted):
        return HeldAsWanted(lock)
    return Blocked(lock, held)
