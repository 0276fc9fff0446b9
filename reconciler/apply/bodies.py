"""What a request's `authentication_option` action names: for compare-and-set, an option that
Zoom has re-created (or renamed) since the plan makes every field of the action stale.

Fields are repo-shaped leaves (`request.fields`); those of an option are
`("authentication_options", name, key)`.
"""

from __future__ import annotations

from reconciler.plan.model import Request
from reconciler.vocab import LeafPath

OPTIONS = "authentication_options"
ACTION = "authentication_option"


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
