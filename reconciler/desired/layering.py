"""A user's effective desired settings: defaults < group `members:` profiles by priority < own file.

Which groups a user belongs to is known only from Zoom, so two profiles at equal priority that set
the same key are rejected when the repo is loaded, whatever their members: any user could be in
both groups tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.desired.models import KEY_OF_FAMILY
from reconciler.desired.problems import Spot, problem, sorted_problems
from reconciler.desired.state import DesiredState, Profile, Settings, Source, dotted, nest
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.vocab import Family, LeafPath

_Slot = tuple[int, Family, LeafPath]


def _conflict(profile: Profile, family: Family, path: LeafPath, first: Source) -> ConfigError:
    here = profile.settings.source(family, path)
    return problem(
        here.file,
        Spot(here.line, here.col),
        ("members", KEY_OF_FAMILY[family], *path),
        f"also set by {first} at the same priority ({profile.priority})",
        "give one of the two profiles a higher priority, or set the key in only one",
    )


def profile_conflicts(profiles: Iterable[Profile]) -> list[ConfigError]:
    """Keys that two profiles of equal priority both set, reported at the later file."""
    seen: dict[_Slot, Source] = {}
    found = []
    for profile in sorted(profiles, key=lambda p: p.source):
        for family in profile.settings.families:
            for path in profile.settings.flat(family):
                here = profile.settings.source(family, path)
                first = seen.setdefault((profile.priority, family, path), here)
                if first is not here:
                    found.append(_conflict(profile, family, path, first))
    return sorted_problems(found)


def merge(layers: Iterable[Settings]) -> Settings:
    """Later layers win, leaf by leaf; each leaf keeps the source of the layer it came from."""
    merged: dict[Family, dict[LeafPath, tuple[Any, Source]]] = {}
    for layer in layers:
        for family in layer.families:
            target = merged.setdefault(family, {})
            for path, value in layer.flat(family).items():
                target[path] = (value, layer.source(family, path))
    return Settings(
        values={
            family: nest({p: v for p, (v, _) in leaves.items()})
            for family, leaves in merged.items()
        },
        sources={
            family: {dotted(p): s for p, (_, s) in leaves.items()}
            for family, leaves in merged.items()
        },
    )


def member_profiles(state: DesiredState, group_names: Sequence[str]) -> list[Profile]:
    """The profiles of the user's groups that have one, lowest priority first (stable)."""
    groups = (state.groups.get(name) for name in group_names)
    profiles = [group.members for group in groups if group and group.members]
    return sorted(profiles, key=lambda profile: profile.priority)


def effective_user_settings(
    state: DesiredState, email: str, group_names_in_zoom_order: Sequence[str]
) -> Settings:
    """What the repo wants for one user: values per family (nested) and each leaf's source."""
    profiles = member_profiles(state, group_names_in_zoom_order)
    conflicts = profile_conflicts(profiles)
    if conflicts:
        raise ValidationFailed(conflicts)
    user = state.users.get(email.lower())
    own = [user.settings] if user else []
    return merge([state.defaults, *(profile.settings for profile in profiles), *own])


class DesiredForUsers:
    """Each user's effective desired settings, for a run over many users: a user whose own file
    the repo has is layered alone; the users no file names share one result per list of groups
    (most users of a large account are such), computed once."""

    def __init__(self, state: DesiredState) -> None:
        self.state = state
        self._by_groups: dict[tuple[str, ...], Settings] = {}

    def desired_for(self, email: str, group_names_in_zoom_order: Sequence[str]) -> Settings:
        """`email` by `email_key`; the groups as Zoom lists them (the primary one first)."""
        groups = tuple(group_names_in_zoom_order)
        if email in self.state.users:
            return effective_user_settings(self.state, email, groups)
        if groups not in self._by_groups:
            self._by_groups[groups] = effective_user_settings(self.state, email, groups)
        return self._by_groups[groups]
