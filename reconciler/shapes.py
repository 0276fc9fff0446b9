"""Between Zoom's shapes and the repo's: what GET returns, what the diff compares, what PATCH takes.

The one place that knows Zoom's settings shapes, in both directions; plan and apply use it, and
export will.

- general settings: the same in both.
- meeting_security: Zoom wraps the fields in a `meeting_security` object; the repo does not.
- the authentication families: Zoom reads `authentication_options` as a list of options and writes
  one imperative `authentication_option: {action: ...}` per request; the repo keys the options by
  name. A changed option becomes its own request: `show`/`hide` for `visible`, `update` (or `add`
  on the account, where options are created) for the other fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.diff import MISSING, LeafChange, patch_body
from reconciler.vocab import Family, Level, LockFamily

AUTH_FAMILIES: frozenset[str] = frozenset({"meeting_authentication", "recording_authentication"})
OPTIONS = "authentication_options"
# Fields of an option that identify it rather than describe it.
_IDENTITY = ("id", "name")


def repo_shape(family: Family, zoom_doc: Mapping[str, Any]) -> dict[str, Any]:
    """A GET response in the shape the repo writes, so the diff compares like with like."""
    if family == "meeting_security":
        return dict(zoom_doc.get("meeting_security") or {})
    if family in AUTH_FAMILIES:
        return _auth_repo_shape(zoom_doc)
    return dict(zoom_doc)


def _auth_repo_shape(zoom_doc: Mapping[str, Any]) -> dict[str, Any]:
    shaped = {key: value for key, value in zoom_doc.items() if key != OPTIONS}
    options = zoom_doc.get(OPTIONS)
    if isinstance(options, list):
        shaped[OPTIONS] = {
            str(option.get("name")): {k: v for k, v in option.items() if k not in _IDENTITY}
            for option in options
        }
    return shaped


def lock_repo_shape(lock_family: LockFamily, zoom_doc: Mapping[str, Any]) -> dict[str, Any]:
    """A lock settings GET in the repo's shape (meeting_security without its wrapper)."""
    if lock_family == "meeting_security":
        return dict(zoom_doc.get("meeting_security") or {})
    return dict(zoom_doc)


def lock_zoom_shape(lock_family: LockFamily, body: dict[str, Any]) -> dict[str, Any]:
    """A repo-shaped lock body as Zoom's lock settings PATCH takes it."""
    return {"meeting_security": body} if lock_family == "meeting_security" else body


def option_ids(zoom_doc: Mapping[str, Any]) -> dict[str, str]:
    """Authentication option name -> id, from a GET of an authentication family."""
    return {
        str(option.get("name")): str(option.get("id"))
        for option in zoom_doc.get(OPTIONS) or []
        if isinstance(option, Mapping)
    }


@dataclass(frozen=True)
class Body:
    """One PATCH body and the repo-shaped leaves it carries."""

    body: dict[str, Any]
    fields: tuple[tuple[str, ...], ...]


class UnsendableChange(Exception):
    """A change that no PATCH at this level can make (e.g. a new option below the account)."""


_ONE_DEFAULT = (
    "Zoom keeps one default option: set default_option: true on the option that should be "
    "the default instead"
)


def unsendable(
    level: Level, family: Family, changes: list[LeafChange], ids: Mapping[str, str]
) -> dict[tuple[str, ...], str]:
    """The changes that no PATCH at this level can make, each with the reason."""
    if family not in AUTH_FAMILIES:
        return {}
    reasons = {}
    for change in changes:
        reason = _missing_option(level, change, ids, changes)
        if reason:
            reasons[change.path] = reason
    new_default = any(_is_default(c, True) and c.path not in reasons for c in changes)
    if level != "account" and not new_default:
        reasons |= {c.path: _ONE_DEFAULT for c in changes if _is_default(c, False)}
    return reasons


def _missing_option(
    level: Level, change: LeafChange, ids: Mapping[str, str], changes: list[LeafChange]
) -> str | None:
    if change.path[0] != OPTIONS or change.path[1] in ids:
        return None
    name = change.path[1]
    if level != "account":
        return f"authentication option {name!r} does not exist; options are created on the account"
    if not any(c.path == (OPTIONS, name, "type") for c in changes):
        return f"authentication option {name!r} does not exist; give its type to create it"
    return None


def _is_default(change: LeafChange, value: bool) -> bool:
    return (
        change.path[0] == OPTIONS
        and change.path[2:] == ("default_option",)
        and (change.after is value)
    )


def patch_bodies(
    level: Level, family: Family, changes: list[LeafChange], ids: Mapping[str, str]
) -> list[Body]:
    """The PATCH bodies that make these changes, fewest first; general families need one."""
    refused = unsendable(level, family, changes, ids)
    if refused:
        raise UnsendableChange(next(iter(refused.values())))
    if not changes:
        return []
    fields = tuple(change.path for change in changes)
    if family == "meeting_security":
        return [Body({"meeting_security": patch_body(changes)}, fields)]
    if family in AUTH_FAMILIES:
        return _auth_bodies(level, changes, ids)
    return [Body(patch_body(changes), fields)]


def _auth_bodies(level: Level, changes: list[LeafChange], ids: Mapping[str, str]) -> list[Body]:
    plain = [change for change in changes if change.path[0] != OPTIONS]
    # Below the account a default is only ever set: the old one follows by itself.
    implied = [c for c in changes if level != "account" and _is_default(c, False)]
    by_option: dict[str, list[LeafChange]] = {}
    for change in changes:
        if change.path[0] == OPTIONS and change not in implied:
            by_option.setdefault(change.path[1], []).append(change)
    bodies = [
        body for name, found in by_option.items() for body in _option_body(level, name, found, ids)
    ]
    bodies = [_carrying(body, implied) for body in bodies]
    if plain:
        head = bodies[0] if bodies else Body({}, ())
        merged = Body({**patch_body(plain), **head.body}, (*(c.path for c in plain), *head.fields))
        bodies = [merged, *bodies[1:]]
    return bodies


def _carrying(body: Body, implied: list[LeafChange]) -> Body:
    """The body that sets the new default also carries the old default's change."""
    action = body.body.get("authentication_option") or {}
    if not implied or action.get("default_option") is not True:
        return body
    return Body(body.body, (*body.fields, *(change.path for change in implied)))


def _option_body(
    level: Level, name: str, changes: list[LeafChange], ids: Mapping[str, str]
) -> list[Body]:
    fields = {change.path[2]: change.after for change in changes if len(change.path) == 3}
    option_id = ids.get(name)
    if option_id is None:
        if level != "account":
            raise UnsendableChange(
                f"authentication option {name!r} does not exist; options are created on the account"
            )
        action = {"action": "add", "name": name, **fields}
        return [Body({"authentication_option": action}, tuple(c.path for c in changes))]
    bodies = []
    visible = fields.pop("visible", MISSING)
    if fields:
        update = {"action": "update", "id": option_id, **fields}
        carried = tuple(c.path for c in changes if c.path[2] != "visible")
        bodies.append(Body({"authentication_option": update}, carried))
    if visible is not MISSING:
        toggle = {"action": "show" if visible else "hide", "id": option_id}
        bodies.append(Body({"authentication_option": toggle}, ((OPTIONS, name, "visible"),)))
    return bodies
