"""Group membership writes: `POST /groups/{groupId}/members`, `DELETE .../members/{memberId}`.

A user's first group is the primary one, whose settings the user inherits: adding a user who is
in no group makes the new group primary, and removing the primary group promotes the next one.
Zoom's spec documents no error for adding a member twice or removing a user who is not a member;
the sandbox leaves both as they are and sends no event for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.responses import invalid_field, user_not_found
from reconciler.sandbox.tenant import Group, Tenant, User

MAX_MEMBERS = 30  # maxItems of `members` in Zoom's spec


def parse_members(tenant: Tenant, body: Mapping[str, Any]) -> list[User]:
    """The users a POST names (an `id`, else an `email`, per member); raises ZoomError."""
    members = body.get("members")
    if not isinstance(members, list) or not members:
        raise invalid_field("members", "Expected a list of 1 to 30 members, each an id or email.")
    if len(members) > MAX_MEMBERS:
        raise invalid_field("members", f"At most {MAX_MEMBERS} members per request.")
    users: list[User] = []
    for index, item in enumerate(members):
        where = f"members[{index}]"
        if not isinstance(item, Mapping):
            raise invalid_field(where, "Expected an object with an id or an email.")
        # "If the user ID is given then the user email should be ignored."
        key = item.get("id") if "id" in item else item.get("email")
        if not isinstance(key, str) or not key.strip():
            raise invalid_field(where, "Expected an object with an id or an email.")
        user = tenant.user(key.strip())
        if user is None:
            raise user_not_found(key.strip())
        users.append(user)
    return users


def add_members(group: Group, users: list[User]) -> list[User]:
    """Add `users` to `group`; returns those who were not members yet, in the order given."""
    added: list[User] = []
    for user in users:
        if group.id not in user.group_ids:
            user.group_ids.append(group.id)
            added.append(user)
    return added


def remove_member(group: Group, user: User) -> bool:
    """Take `user` out of `group`; False when the user was not a member."""
    if group.id not in user.group_ids:
        return False
    user.group_ids.remove(group.id)
    return True
