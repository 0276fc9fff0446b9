"""A request's PATCH body with some of its fields left out (stale, or already at the desired value).

Fields are repo-shaped leaves (`request.fields`). Where they sit in the body depends on the family:
at the top for general settings, under `meeting_security` for that family, and for the
authentication families either at the top (the family's switch) or in the one
`authentication_option` action (`("authentication_options", name, key)`). An `update` action can
lose single keys; `add`, `show` and `hide` go whole or not at all.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.plan.model import Request
from reconciler.vocab import LeafPath

OPTIONS = "authentication_options"
ACTION = "authentication_option"
_ACTION_KEYS = ("action", "id")


def option_fields(request: Request) -> set[LeafPath]:
    """The fields that the request's `authentication_option` action carries."""
    return {path for path in request.fields if path[0] == OPTIONS}


def action_option(request: Request) -> tuple[str, str] | None:
    """(name, id) of the existing option that the request's action names (None for `add`)."""
    action = request.body.get(ACTION)
    names = {path[1] for path in option_fields(request)}
    if not isinstance(action, dict) or "id" not in action or len(names) != 1:
        return None
    return names.pop(), str(action["id"])


def inseparable(request: Request, left_out: set[LeafPath]) -> set[LeafPath]:
    """The fields that cannot be sent once `left_out` is: those of a whole-or-nothing action."""
    action = request.body.get(ACTION)
    fields = option_fields(request)
    if not isinstance(action, dict) or action.get("action") == "update":
        return set()
    return fields - left_out if fields & left_out else set()


def body_without(request: Request, left_out: set[LeafPath]) -> dict[str, Any] | None:
    """The request's body minus `left_out`; None when nothing is left to send."""
    if not left_out:
        return request.body
    body: dict[str, Any] = copy.deepcopy(request.body)
    for path in left_out:
        _drop(body, request.option, path)
    return body or None


def _drop(body: dict[str, Any], option: str | None, path: LeafPath) -> None:
    if path[0] == OPTIONS and ACTION in body:
        _drop_from_action(body, path[-1])
    elif option == "meeting_security" and "meeting_security" in body:
        _remove(body, ("meeting_security", *path))
    else:
        _remove(body, path)


def _drop_from_action(body: dict[str, Any], key: str) -> None:
    action = body[ACTION]
    if action.get("action") != "update":
        del body[ACTION]  # add / show / hide: the action is the field
        return
    action.pop(key, None)
    if all(name in _ACTION_KEYS for name in action):
        del body[ACTION]


def _remove(node: dict[str, Any], path: LeafPath) -> None:
    """Remove a leaf, and the objects that it leaves empty."""
    parents = [node]
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return
        node = child
        parents.append(node)
    node.pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if not parents[depth]:
            parents[depth - 1].pop(path[depth - 1], None)
