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
    return found


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
