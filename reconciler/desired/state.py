"""The desired state: what the settings repo asks of Zoom, and where each managed key was written.

Only keys a file names are managed. A *leaf* is a key path that holds a value (a scalar, or a list,
which is replaced whole); mappings are containers. `Settings.values` holds the managed keys as
nested mappings per option family; `Settings.sources` holds, per family, the file, line and column
of every leaf, keyed by its dotted path (`in_meeting.waiting_room`). Locks use the same structure
with the lock families `general` and `meeting_security`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.desired.acknowledged import AckEntry
from reconciler.desired.models import RepoOptions
from reconciler.vocab import Family, LeafPath

if TYPE_CHECKING:
    from reconciler.desired.selection import Selection


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where a key was written: a path relative to the repo, 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def leaves(nested: Mapping[str, Any], prefix: LeafPath = ()) -> Iterator[tuple[LeafPath, Any]]:
    """Every leaf of a nested mapping, in file order; lists are leaves."""
    for key, value in nested.items():
        if isinstance(value, Mapping):
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def deep_merged(under: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `under`, section by section: a new document, neither input changed."""
    merged = copy.deepcopy(dict(under))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def nest(flat: Mapping[LeafPath, Any]) -> dict[str, Any]:
    """The inverse of `leaves`."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return nested


def dotted(path: LeafPath) -> str:
    return ".".join(path)


@dataclass(frozen=True)
class Settings:
    """Managed keys per family (nested), and the source of every leaf (by dotted path)."""

    values: dict[Family, dict[str, Any]] = field(default_factory=dict)
    sources: dict[Family, dict[str, Source]] = field(default_factory=dict)

    @property
    def families(self) -> tuple[Family, ...]:
        """The families this layer manages (those with at least one leaf)."""
        return tuple(family for family, source in self.sources.items() if source)

    def flat(self, family: Family) -> dict[LeafPath, Any]:
        return dict(leaves(self.values.get(family, {})))

    def source(self, family: Family, path: LeafPath) -> Source:
        return self.sources[family][dotted(path)]

    def __bool__(self) -> bool:
        return bool(self.families)


@dataclass(frozen=True)
class Profile:
    """A group's `members:` profile: settings for every member; a higher priority wins."""

    group: str
    priority: int
    settings: Settings
    source: Source


@dataclass(frozen=True)
class Account:
    file: str
    settings: Settings
    locks: Settings


@dataclass(frozen=True)
class Group:
    name: str
    id: str | None
    file: str
    settings: Settings
    locks: Settings
    members: Profile | None


@dataclass(frozen=True)
class User:
    email: str
    file: str
    settings: Settings


@dataclass(frozen=True)
class DesiredState:
    """Everything the settings repo asks for; users keyed by lower-case email, groups by name."""

    root: Path
    options: RepoOptions
    account: Account | None = None
    defaults: Settings = field(default_factory=Settings)
    defaults_file: str | None = None
    groups: dict[str, Group] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    # sha256 of the bytes of every file read, by repo-relative path.
    file_digests: dict[str, str] = field(default_factory=dict)
    acknowledged: tuple[AckEntry, ...] = ()
    # The `policies:` entries of reconciler.yaml, with where each is written.
    selections: tuple[Selection, ...] = ()

    def profiles(self) -> list[Profile]:
        return [group.members for group in self.groups.values() if group.members]
