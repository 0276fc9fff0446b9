"""`export --managed-only` for the layers that many users share: the all-users defaults file and
the groups' `members:` profiles.

Zoom keeps no copy of such a layer; it has only the values of the users it decides, those for
whom it is the last layer that sets the field (no profile of higher priority, no own file sets
it). Accepting drift there means: when those users all hold one value in Zoom (the value a lock
above holds them at, where one does, as the plan compares), that value is written at the layer's
line; when they hold several, or some could not be read, no one value would leave the plan
empty, so the line is left as it is and one warning per field says why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.desired.layering import effective_user_settings
from reconciler.desired.models import KEY_OF_FAMILY
from reconciler.desired.state import DesiredState, Settings, Source, dotted, nest
from reconciler.desired.writer import Edit
from reconciler.desired.zoomfields import family_model
from reconciler.diff import MISSING
from reconciler.vocab import Family, LeafPath

ValueOf = Callable[[Family, LeafPath], Any]
SHOWN_VALUES = 4  # the most common values a warning names; the rest are counted


@dataclass(frozen=True)
class Layer:
    """A layer users share: the defaults file (`group` None) or a group's `members:` profile."""

    settings: Settings
    group: str | None

    @property
    def prefix(self) -> tuple[str, ...]:
        """Where its keys sit in its file: at the top, or under `members:`."""
        return () if self.group is None else ("members",)

    @property
    def decided(self) -> str:
        return "users" if self.group is None else "members"


@dataclass
class LayerField:
    """One field a layer sets, and what Zoom holds for the users it decides."""

    layer: Layer
    family: Family
    path: LeafPath
    source: Source
    held: Counter[str] = field(default_factory=Counter)  # by the value as JSON
    values: dict[str, Any] = field(default_factory=dict)
    unread: int = 0

    @property
    def shown(self) -> str:
        """`defaults.yaml:5:5 in_meeting.chat`: the line and the field as FIELD names it."""
        name = dotted(self.path)
        if self.family != "general":
            name = f"{KEY_OF_FAMILY[self.family]}.{name}"
        return f"{self.source} {name}"

    def add(self, value: Any) -> None:
        text = _text(value)
        self.held[text] += 1
        self.values.setdefault(text, value)

    @property
    def users(self) -> int:
        return sum(self.held.values()) + self.unread


@dataclass
class Accepted:
    """The edits each layer gets (by group name; None for the defaults file) and the warnings."""

    edits: dict[str | None, list[Edit]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class LayerTally:
    """Counts, user by user as export reads them, the values each shared layer's fields decide."""

    def __init__(
        self,
        state: DesiredState,
        families: Collection[Family],
        wanted: Callable[[str], bool] = lambda label: True,
    ) -> None:
        self.state = state
        self.fields: dict[Source, LayerField] = {}
        for layer in _layers(state):
            for family in layer.settings.families:
                if family not in families:
                    continue
                for path in layer.settings.flat(family):
                    if wanted(f"{KEY_OF_FAMILY[family]}.{dotted(path)}"):
                        source = layer.settings.source(family, path)
                        self.fields[source] = LayerField(layer, family, path, source)
        self._decided: dict[tuple[str, ...], list[LayerField]] = {}

    def decided_by(self, email: str, groups: Sequence[str]) -> list[LayerField]:
        """The layer fields that decide this user's value (the user's file wins over them all)."""
        if not self.fields:
            return []
        if email in self.state.users:
            return self._deciding(email, groups)
        key = tuple(groups)
        if key not in self._decided:  # users without a file are decided by their groups alone
            self._decided[key] = self._deciding(email, groups)
        return self._decided[key]

    def _deciding(self, email: str, groups: Sequence[str]) -> list[LayerField]:
        effective = effective_user_settings(self.state, email, groups)
        return [
            self.fields[source]
            for sources in effective.sources.values()
            for source in sources.values()
            if source in self.fields
        ]

    def count(self, email: str, groups: Sequence[str], value_of: ValueOf) -> None:
        for found in self.decided_by(email, groups):
            found.add(value_of(found.family, found.path))

    def unread(self, email: str, groups: Sequence[str]) -> None:
        for found in self.decided_by(email, groups):
            found.unread += 1

    def accepted(self) -> Accepted:
        result = Accepted()
        for found in self.fields.values():
            value, why = _verdict(found)
            if why is not None:
                result.warnings.append(f"{found.shown}: {why}; not changed")
            elif value is not MISSING:
                path = (*found.layer.prefix, KEY_OF_FAMILY[found.family], *found.path)
                result.edits.setdefault(found.layer.group, []).append(Edit(path, value))
        return result


def _layers(state: DesiredState) -> list[Layer]:
    found = [Layer(state.defaults, None)] if state.defaults_file else []
    found += [Layer(g.members.settings, name) for name, g in state.groups.items() if g.members]
    return found


def _verdict(found: LayerField) -> tuple[Any, str | None]:
    """The one value to write (MISSING: none, nothing to say), or why there is none."""
    users = f"the {found.users} {found.layer.decided} it decides"
    if found.unread:
        return MISSING, f"the settings of {found.unread} of {users} could not be read"
    if len(found.held) > 1:
        split = ", ".join(f"{text}: {count}" for text, count in _most_common(found.held))
        return MISSING, f"{users} hold {len(found.held)} values in Zoom ({split})"
    if not found.held:
        return MISSING, None  # it decides no one now: nothing drifted from it
    [(text, _count)] = found.held.items()
    value = found.values[text]
    if value is MISSING:
        return MISSING, f"Zoom shows no value of it for {users}"
    if not _holdable(found.family, found.path, value):
        return MISSING, f"{users} hold {text} in Zoom, which the file cannot hold"
    return value, None


def _most_common(held: Counter[str]) -> list[tuple[str, int]]:
    ranked = sorted(held.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:SHOWN_VALUES]
    rest = ranked[SHOWN_VALUES:]
    if rest:
        shown.append((f"{len(rest)} other values", sum(count for _, count in rest)))
    return shown


def _holdable(family: Family, path: LeafPath, value: Any) -> bool:
    """Whether a user's layer may hold the value (the loader's own model decides)."""
    try:
        family_model("user", family).model_validate(nest({path: value}))
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    if value is MISSING:
        return "(not set)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
