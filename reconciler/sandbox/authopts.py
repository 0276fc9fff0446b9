"""Authentication families: read as an `authentication_options` list, written as one action.

The account owns the options (`add`, `update`, `delete`). Groups and users see the account's
options and may only `update` (choose their default), `show` or `hide` one; the lowest level that
chose wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.sandbox.tenant import AuthChoice

ACCOUNT_ACTIONS = ("add", "update", "delete")
MEMBER_ACTIONS = ("update", "show", "hide")
_EDITABLE = ("name", "type", "domains", "default_option")


class AuthActionError(ValueError):
    """An `authentication_option` that cannot be applied; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def options_view(options: list[dict[str, Any]], chain: list[AuthChoice]) -> list[dict[str, Any]]:
    """The account's options as a group or user sees them (`chain`: group first, then user)."""
    default = next((c.default_id for c in reversed(chain) if c.default_id), None)
    out = []
    for option in options:
        seen = dict(option)
        for choice in chain:
            if option["id"] in choice.visible:
                seen["visible"] = choice.visible[option["id"]]
        if default is not None:
            seen["default_option"] = option["id"] == default
        out.append(seen)
    return out


def _find(options: list[dict[str, Any]], action: Mapping[str, Any]) -> dict[str, Any]:
    option_id = action.get("id")
    if not option_id:
        raise AuthActionError("authentication_option.id", "The option id is required.")
    for option in options:
        if option["id"] == option_id:
            return option
    raise AuthActionError(
        "authentication_option.id", f"Authentication option does not exist: {option_id}."
    )


def _check_action(action: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
    verb = action.get("action")
    if verb not in allowed:
        raise AuthActionError(
            "authentication_option.action",
            f"Invalid action {verb!r}: expected one of {', '.join(allowed)}.",
        )
    return str(verb)


def apply_account_action(
    options: list[dict[str, Any]], action: Mapping[str, Any], new_id: Callable[[], str]
) -> None:
    verb = _check_action(action, ACCOUNT_ACTIONS)
    if verb == "add":
        _add(options, action, new_id())
    elif verb == "update":
        target = _find(options, action)
        target.update({k: action[k] for k in _EDITABLE if k in action})
        _single_default(options, target, action)
    else:
        options.remove(_find(options, action))


def _add(options: list[dict[str, Any]], action: Mapping[str, Any], option_id: str) -> None:
    for required in ("name", "type"):
        if not action.get(required):
            raise AuthActionError(
                f"authentication_option.{required}", f"The option {required} is required."
            )
    option = {"id": option_id, "name": action["name"], "type": action["type"]}
    if "domains" in action:
        option["domains"] = action["domains"]
    option.update(default_option=bool(action.get("default_option", False)), visible=True)
    options.append(option)
    _single_default(options, option, action)


def _single_default(
    options: list[dict[str, Any]], target: dict[str, Any], action: Mapping[str, Any]
) -> None:
    if action.get("default_option") is True:
        for option in options:
            option["default_option"] = option is target


def apply_member_action(
    options: list[dict[str, Any]], choice: AuthChoice, action: Mapping[str, Any]
) -> None:
    """A group's or user's `update` / `show` / `hide` of one of the account's options."""
    verb = _check_action(action, MEMBER_ACTIONS)
    target = _find(options, action)
    if verb == "update" and action.get("default_option") is True:
        choice.default_id = target["id"]
    elif verb in ("show", "hide"):
        choice.visible[target["id"]] = verb == "show"
