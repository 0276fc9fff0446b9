"""Which rules of a pack the repo enables: one `policies:` entry of reconciler.yaml, with where
each of its parts is written (for problems the policy loader finds once it has read the pack).

    policies:
      - cis-zoom-1.0                                  # every rule
      - {pack: cis-zoom-1.0, profile: 1, except: [cis-1.1.1.8], severity: [high, medium]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.desired.models import PackChoice, RepoOptions
from reconciler.desired.problems import KeyPath
from reconciler.desired.state import Source
from reconciler.desired.yamlfile import Document

OPTIONS_FILE = "reconciler.yaml"


@dataclass(frozen=True)
class Selection:
    """A pack, and the filters of its rules: a plain name filters nothing.

    `profile` 1 keeps the rules of profile 1 and those without a profile; 2 keeps every profile
    (CIS's level 2 extends level 1). `severities` empty keeps every severity. `index` is the
    entry's place in `policies:` (None when the selection is not written in the repo), and
    `spots` says where its parts are written, by key path inside the entry (`()` the entry,
    `("except", 1)` the second id it excepts).
    """

    pack: str
    profile: int | None = None
    excluded: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    index: int | None = None
    spots: Mapping[KeyPath, Source] = field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        return bool(self.profile or self.excluded or self.severities)

    def key_path(self, inner: KeyPath = ()) -> KeyPath:
        """Where in reconciler.yaml a part of the entry is: `policies[2].except[0]`."""
        return ("policies", self.index, *inner) if self.index is not None else ()

    def source(self, inner: KeyPath = ()) -> Source | None:
        """Where the part is written, else the nearest part around it; None outside the repo."""
        while True:
            if inner in self.spots:
                return self.spots[inner]
            if not inner:
                return None
            inner = inner[:-1]


def selections_of(options: RepoOptions, doc: Document | None) -> tuple[Selection, ...]:
    """The `policies:` entries of reconciler.yaml (already checked against its model)."""
    return tuple(_selection(entry, index, doc) for index, entry in enumerate(options.policies))


def _selection(entry: str | PackChoice, index: int, doc: Document | None) -> Selection:
    if isinstance(entry, str):
        return Selection(entry, index=index, spots=_spots(doc, ("policies", index), []))
    return Selection(
        entry.pack,
        profile=entry.profile,
        excluded=tuple(entry.except_),
        severities=tuple(entry.severity),
        index=index,
        spots=_spots(doc, ("policies", index), _parts(entry)),
    )


def _parts(entry: PackChoice) -> list[KeyPath]:
    parts: list[KeyPath] = [("pack",), ("profile",), ("except",), ("severity",)]
    parts += [("except", number) for number in range(len(entry.except_))]
    return parts + [("severity", number) for number in range(len(entry.severity))]


def _spots(doc: Document | None, at: KeyPath, parts: list[KeyPath]) -> dict[KeyPath, Source]:
    if doc is None:
        return {}
    spots = {}
    for inner in [(), *parts]:
        spot = doc.values.get((*at, *inner)) or doc.keys.get((*at, *inner))
        if spot is not None:
            spots[inner] = Source(OPTIONS_FILE, spot.line, spot.col)
    return spots
