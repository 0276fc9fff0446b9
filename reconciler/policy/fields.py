"""Whether a rule's fields exist at each level it names, by Zoom's GET schemas.

A field that a level's documents never have makes the rule not applicable at that level, for
every target, silently: almost always a typo or a field of another level. `policy test` reports
these, and a test checks every shipped pack. The expression's fields and `locked` fields are
looked up in `schemas/zoom/{level}.{family}.get.json` (in the repo's shape: meeting_security
without its wrapper, authentication options by name); a remedy's settings the same way, and its
locks in `{level}.lock.{family}.get.json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.desired.state import leaves
from reconciler.errors import ConfigError
from reconciler.policy.celexpr import FAMILY_VARIABLES, VARIABLE_OF
from reconciler.policy.rules import Pack, Rule
from reconciler.schemas import zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import Family, LeafPath, Level, LockFamily

_OPTIONS = "authentication_options"


def field_problems(pack: Pack) -> list[ConfigError]:
    return [problem for rule in pack.rules for problem in rule_field_problems(rule)]


def rule_field_problems(rule: Rule) -> list[ConfigError]:
    found = []
    for level in rule.levels:
        for what, family, path in _expr_fields(rule):
            if not has_field(level, family, path):
                shown = ".".join((VARIABLE_OF[family], *path))
                found.append(_problem(rule, rule.expr_line, f"{what} {shown}", level))
        for shown, known in _remedy_fields(rule, level):
            if not known:
                found.append(_problem(rule, rule.line, f"remedy {shown}", level))
        if rule.portal is None:
            found += [_unreachable(rule, shown, level) for shown in unreachable(rule, level)]
    return found


def unreachable(rule: Rule, level: Level) -> list[str]:
    """The remedy's settings (dotted, repo-shaped) that nothing can set for a target of `level`
    through Zoom's API: the level's PATCH has no such field, and no lock above covers it."""
    found = []
    for key, section in (rule.remedy or {}).items():
        if key == "locks":
            continue
        family = FAMILY_VARIABLES[key]
        for path, _value in leaves(section):
            if not reachable(level, family, path):
                found.append(".".join((key, *path)))
    return found


_ABOVE: dict[Level, tuple[Level, ...]] = {"user": ("group", "account"), "group": ("account",)}


def reachable(level: Level, family: Family, path: LeafPath) -> bool:
    """A target of `level` can be given the leaf: by its own PATCH, or by a lock above it
    (the account's for a group or user, a group's for a user) over a value set there."""
    if writable(level, family, path):
        return True
    above: tuple[Level, ...] = _ABOVE.get(level, ())
    return any(
        writable(holder, family, path) and lock_for(holder, family, path) is not None
        for holder in above
    )


def _unreachable(rule: Rule, shown: str, level: Level) -> ConfigError:
    return ConfigError(
        f"{rule.id}: remedy {shown} cannot be set for a {level} through Zoom's API (no such"
        " field in its PATCH, and no lock above covers it)",
        file=rule.file,
        line=rule.line,
        hint="say where an admin sets it by hand with `portal:`, or leave"
        f" {level} out of the rule's levels",
    )


def _problem(rule: Rule, line: int, what: str, level: Level) -> ConfigError:
    return ConfigError(
        f"{rule.id}: {what} is not a field of {level} settings",
        file=rule.file,
        line=line,
        hint=f"check the name, or leave {level} out of the rule's levels",
    )


def _expr_fields(rule: Rule) -> list[tuple[str, Family, LeafPath]]:
    plain = [("expr reads", family, path) for family, path in rule.reads.fields]
    locks = [("expr reads locked", family, path) for family, path in rule.reads.locks]
    return sorted(plain + locks)


def _remedy_fields(rule: Rule, level: Level) -> Iterator[tuple[str, bool]]:
    remedy = rule.remedy or {}
    for key, section in remedy.items():
        if key == "locks":
            # a remedy's locks are for the account and group levels; users hold none
            if level != "user":
                yield from _lock_fields(section, level)
            continue
        for path, _value in leaves(section):
            yield ".".join((key, *path)), has_field(level, FAMILY_VARIABLES[key], path)


def _lock_fields(locks: dict[str, Any], level: Level) -> Iterator[tuple[str, bool]]:
    for path, _value in leaves(locks):
        lock_family: LockFamily = "meeting_security" if path[0] == "meeting_security" else "general"
        yield ".".join(("locks", *path)), _lock_has(level, lock_family, path)


def _lock_has(level: Level, lock_family: LockFamily, path: LeafPath) -> bool:
    if level == "user":
        return False
    return _walk(zoom_lock_schema(level, lock_family, "get"), path, options=False)


def has_field(level: Level, family: Family, path: LeafPath) -> bool:
    """True when `path` (the repo's shape) is a field, or a section, of the level's GET."""
    schema = zoom_settings_schema(level, family, "get")
    if family == "meeting_security":
        path = ("meeting_security", *path)
    return _walk(schema, path, options=family != "general")


def _walk(schema: dict[str, Any], path: LeafPath, *, options: bool) -> bool:
    node: dict[str, Any] | None = schema
    steps = list(path)
    while steps and node is not None:
        step = steps.pop(0)
        node = node.get("properties", {}).get(step)
        if options and step == _OPTIONS and node is not None and steps:
            steps.pop(0)  # the option's name: the repo keys Zoom's list of options by it
            node = node.get("items")
    return node is not None


# -- what each level can set through the API ------------------------------------------------------


def writable(level: Level, family: Family, path: LeafPath) -> bool:
    """True when the level's PATCH schema has `path` (the repo's shape) as a field."""
    schema = zoom_settings_schema(level, family, "patch")
    if family == "meeting_security":
        path = ("meeting_security", *path)
    return _walk(schema, path, options=family != "general")


_AUTH_SWITCH_LOCKS: dict[Family, LeafPath] = {
    "meeting_authentication": ("schedule_meeting", "meeting_authentication"),
    "recording_authentication": ("recording", "recording_authentication"),
}


def lock_for(level: Level, family: Family, path: LeafPath) -> LeafPath | None:
    """The lock leaf (repo-shaped, under `locks:`) that fixes a settings leaf at a level that
    holds locks: the shortest prefix of its path that the level's lock PATCH and GET schemas
    both have; None when no lock covers it (users hold no locks). A lock the GET does not
    return (`schedule_meeting.personal_meeting`) cannot be read back, so apply could never
    verify it held: no remedy relies on one."""
    if level == "user":
        return None
    if family in _AUTH_SWITCH_LOCKS:
        switch = _AUTH_SWITCH_LOCKS[family]
        known = path == (family,) and _walk(
            zoom_lock_schema(level, "general", "patch"), switch, options=False
        )
        return switch if known else None
    lock_family: LockFamily = "meeting_security" if family == "meeting_security" else "general"
    sent = zoom_lock_schema(level, lock_family, "patch")
    read = zoom_lock_schema(level, lock_family, "get")
    full = ("meeting_security", *path) if family == "meeting_security" else path
    start = 2 if family == "meeting_security" else 1
    for end in range(start, len(full) + 1):
        if all(_is_boolean(_node(schema, full[:end])) for schema in (sent, read)):
            return full[:end]
    return None


def _is_boolean(node: dict[str, Any] | None) -> bool:
    return node is not None and node.get("type") == "boolean"


def _node(schema: dict[str, Any], path: LeafPath) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for step in path:
        if node is None:
            return None
        node = node.get("properties", {}).get(step)
    return node


# Where the web portal keeps each section, for the steps an API cannot take.
_PORTAL_SECTIONS = {
    "in_meeting": "Account Management > Account Settings > Meeting > In Meeting (Basic/Advanced)",
    "schedule_meeting": "Account Management > Account Settings > Meeting > Schedule Meeting",
    "recording": "Account Management > Account Settings > Recording",
    "telephony": "Account Management > Account Settings > Audio Conferencing",
    "audio_conferencing": "Account Management > Account Settings > Audio Conferencing",
    "email_notification": "Account Management > Account Settings > Meeting > Email Notification",
    "chat": "Account Management > Account Settings > Team Chat",
    "other_options": "Account Management > Account Settings > Meeting > Other",
    "integration": "Account Management > Account Settings > Meeting > Integration",
    "feature": "Account Management > Account Settings > Meeting",
    "profile": "Account Management > Account Settings > Meeting",
    "tsp": "Account Management > Account Settings > Audio Conferencing",
}
_PORTAL_FAMILIES = {
    "meeting_security": "Account Management > Account Settings > Meeting > Security",
    "meeting_authentication": "Account Management > Account Settings > Meeting > Security"
    " (Only authenticated users can join meetings)",
    "recording_authentication": "Account Management > Account Settings > Recording"
    " (Only authenticated users can view cloud recordings)",
}


def portal_place(family: Family, path: LeafPath) -> str:
    """Where an admin changes the field by hand (for a group: User Management > Groups > the
    group > the same tab; for a user: the user's own Settings page)."""
    if family in _PORTAL_FAMILIES:
        return _PORTAL_FAMILIES[family]
    return _PORTAL_SECTIONS.get(path[0], "Account Management > Account Settings")


def manual_levels(rule: Rule) -> tuple[Level, ...]:
    """The rule's levels where its remedy is a step by hand: it has none, or no API (nor a lock
    above) can set one of its fields there."""
    if not rule.remedy or not [k for k in rule.remedy if k != "locks"]:
        return rule.levels
    return tuple(level for level in rule.levels if unreachable(rule, level))
