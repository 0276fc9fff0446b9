"""`reconciler explain USER FIELD`: where one field of a user comes from, and what plan makes of it.

Every layer that sets the field (all-users defaults, the `members:` profile of each of the user's
groups by priority, the user's own file) with file:line; the effective desired value; the live
value from Zoom; the locks of the account and of the user's primary group, in Zoom and in the
repo; and the verdict a plan would reach. It reads through the planner's view of the repo
(`RepoView`), so the two never disagree: the live value of a field a lock above covers is the
value the lock holds it at (the plan's `before`), and where the user's own answer from Zoom says
otherwise, the explanation says so.

FIELD is a dotted path in the repo's shape. A leading family key (`meeting_security.`,
`meeting_authentication.`, `recording_authentication.`, or `settings.` for general settings)
picks the option family; without one the field is a general setting.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.layering import member_profiles
from reconciler.desired.models import FAMILY_KEYS
from reconciler.desired.state import Settings, dotted
from reconciler.desired.zoomfields import family_shape
from reconciler.desired.zoomfields import lookup as schema_at
from reconciler.diff import MISSING, lookup, strictly_equal
from reconciler.errors import ConfigError
from reconciler.live import Blocked, HeldAsWanted, LockView, Unreadable
from reconciler.live.directory import check_named_targets, check_selected_users
from reconciler.live.locks import covering_lock, lock_leaf_for
from reconciler.plan.repo_view import RepoView
from reconciler.shapes import OPTIONS
from reconciler.targets import Scope
from reconciler.vocab import Family, LeafPath, email_key
from reconciler.zoom.endpoints import UserSummary

Verdict = Literal["not managed", "in sync", "locked in sync", "pending", "blocked", "unknown"]


@dataclass(frozen=True)
class Layer:
    """One layer of the user's desired settings that sets the field."""

    name: str  # "defaults", "group Engineering members (priority 20)", "user file"
    value: Any
    source: str


@dataclass(frozen=True)
class LockFinding:
    """A level above the user that locks the field, in Zoom now or once this repo is applied."""

    holder: str  # "the account" or "group NAME"
    in_zoom: bool
    in_repo: bool | None  # the repo locks (True) or lifts (False) it; None: the repo is silent
    source: str | None  # the repo's lock leaf, file:line:col
    value: Any  # the value the lock holds the field at (MISSING when not locked after apply)


@dataclass(frozen=True)
class HeldBy:
    """A lock above holds the field at `Explanation.live`, though Zoom's answer for the user
    itself says `own` (Zoom applies the lock; the plan compares the held value)."""

    holder: str  # "the account" or "group NAME"
    own: Any
    source: str | None  # the repo file:line that sets the held value, when the repo does


@dataclass
class Explanation:
    email: str
    groups: list[str]
    family: Family
    path: LeafPath
    layers: list[Layer] = field(default_factory=list)
    desired: Any = MISSING
    source: str | None = None
    live: Any = MISSING
    live_error: str | None = None
    held_by: HeldBy | None = None  # set when a lock holds `live` and the user's answer differs
    locks: list[LockFinding] = field(default_factory=list)
    verdict: Verdict = "not managed"
    reason: str | None = None  # why it is blocked

    @property
    def field_name(self) -> str:
        return dotted(self.path)


# -- FIELD ------------------------------------------------------------------------------------


def parse_field(text: str, family: Family | None = None) -> tuple[Family, LeafPath]:
    """The family and repo-shaped path a FIELD names; an unknown field is an error."""
    parts = tuple(part for part in text.split(".") if part)
    if family is None and len(parts) > 1 and parts[0] in FAMILY_KEYS:
        family, parts = FAMILY_KEYS[parts[0]], parts[1:]
    family = family or "general"
    path = _option_path(parts)
    _check_field(family, path, text)
    return family, path


def _option_path(parts: LeafPath) -> LeafPath:
    """`authentication_options.NAME.field`, where NAME may itself hold dots."""
    if len(parts) > 3 and parts[0] == OPTIONS:
        return (OPTIONS, ".".join(parts[1:-1]), parts[-1])
    return parts


def _check_field(family: Family, path: LeafPath, text: str) -> None:
    shape = family_shape("user", family, "patch")
    found = schema_at(shape, path) if path else None
    if found is not None and found.get("type") != "object":
        return
    if found is not None:
        raise ConfigError(f"{text!r} is a group of fields, not one field", hint=_inside(found))
    raise ConfigError(
        f"a user's {_family_label(family)} have no field {dotted(path)!r}",
        hint=_suggestion(shape, path),
    )


def _inside(schema: Mapping[str, Any], shown: int = 6) -> str:
    keys = sorted(schema.get("properties", {}))
    more = f", ... ({len(keys) - shown} more)" if len(keys) > shown else ""
    return "name one field inside it, e.g. " + ", ".join(keys[:shown]) + more


def _suggestion(shape: Mapping[str, Any], path: LeafPath) -> str | None:
    """`did you mean ...?` for the first key of `path` that the shape lacks."""
    for depth in range(len(path)):
        if schema_at(shape, path[: depth + 1]) is None:
            parent = schema_at(shape, path[:depth]) or {}
            close = difflib.get_close_matches(path[depth], list(parent.get("properties", {})), 1)
            return f"did you mean {dotted((*path[:depth], close[0]))!r}?" if close else None
    return None


def _family_label(family: Family) -> str:
    return "general settings" if family == "general" else f"{family} settings"


# -- the explanation ----------------------------------------------------------------------------


async def explain(
    state: DesiredState, session: Session, email: str, field: str, family: Family | None = None
) -> Explanation:
    family, path = parse_field(field, family)
    email = email_key(email)
    # The repo as a whole decides the verdict: its account and group locks count as applied.
    view = RepoView(state, session.reader, Scope(users=frozenset({email})))
    user = await _resolve(view, email)
    target = _UserTarget(user["id"], await view.views.above(user))
    found = Explanation(email, session.reader.directory.group_names(user), family, path)
    _add_layers(found, state)
    await _add_live(found, view, target)
    await _add_locks(found, view, target)
    await _add_verdict(found, view, target)
    return found


@dataclass(frozen=True)
class _UserTarget:
    target_id: str
    views: tuple[LockView, ...]  # the account's, then the primary group's


async def _resolve(view: RepoView, email: str) -> UserSummary:
    """The user as a plan of them alone finds them: every group file's group must exist, and the
    user must be active in Zoom (each refused with the planner's words)."""
    reader = view.reader
    await reader.load_groups()
    await reader.look_up_users([email], workers=1)
    check_named_targets(view.state, reader.directory, [email] if email in view.state.users else [])
    check_selected_users(reader.directory, [email])
    return reader.directory.users[email]


def _add_layers(found: Explanation, state: DesiredState) -> None:
    layers: list[tuple[str, Settings]] = [("defaults", state.defaults)]
    layers += [
        (f"group {p.group} members (priority {p.priority})", p.settings)
        for p in member_profiles(state, found.groups)
    ]
    user = state.users.get(found.email)
    layers += [("user file", user.settings)] if user else []
    for name, settings in layers:
        value = lookup(settings.values.get(found.family, {}), found.path)
        if value is not MISSING:
            source = str(settings.source(found.family, found.path))
            found.layers.append(Layer(name, value, source))
    if found.layers:
        found.desired, found.source = found.layers[-1].value, found.layers[-1].source


async def _add_live(found: Explanation, view: RepoView, target: _UserTarget) -> None:
    live = await view.reader.read("user", target.target_id, found.family)
    if isinstance(live, Unreadable):
        found.live_error = live.cause
        return
    own = lookup(live.values, found.path)
    found.live = own
    lock = covering_lock(target.views, found.family, found.path)
    if lock is None or not lock.view.applied:
        return  # the plan reads the user's own value too
    # The plan takes the value the lock's holder holds (the repo's, where this run applies it)
    # for the user's: Zoom enforces it, and the user is not even read.
    found.live = await view.views.holder_value(lock.view, found.family, found.path)
    if not strictly_equal(found.live, own):
        desired = view.overlay.settings_of(lock.view.holder)
        source = desired.sources.get(found.family, {}).get(found.field_name) if desired else None
        found.held_by = HeldBy(lock.view.holder.who, own, None if source is None else str(source))


async def _add_locks(found: Explanation, repo: RepoView, target: _UserTarget) -> None:
    for view in target.views:
        finding = await _lock_finding(found, repo, view)
        if finding is not None:
            found.locks.append(finding)


async def _lock_finding(found: Explanation, repo: RepoView, view: LockView) -> LockFinding | None:
    in_zoom = view.live_lock_on(found.family, found.path)
    desired = repo.overlay.locks_of(view.holder)
    in_repo, source = lock_leaf_for(desired, found.family, found.path) if desired else (None, None)
    locked, _ = view.lock_on(found.family, found.path)
    if not (in_zoom or locked):
        return None
    views = repo.views
    value = await views.holder_value(view, found.family, found.path) if locked else MISSING
    return LockFinding(view.holder.who, in_zoom, in_repo, source, value)


async def _add_verdict(found: Explanation, view: RepoView, target: _UserTarget) -> None:
    if found.desired is MISSING:
        return
    verdict = await view.views.verdict(target.views, found.family, found.path, found.desired)
    match verdict:
        case Blocked(lock):
            found.verdict, found.reason = "blocked", lock.reason
        case HeldAsWanted():
            found.verdict = "locked in sync"
        case _ if found.live_error is not None:
            found.verdict = "unknown"
        case _:
            found.verdict = "in sync" if strictly_equal(found.live, found.desired) else "pending"


__all__ = ["Explanation", "HeldBy", "Layer", "LockFinding", "explain", "parse_field"]
