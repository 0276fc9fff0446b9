"""How users, groups and members look in Zoom's list and detail answers."""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.tenant import ROLE_NAMES, Account, Group, User


def _login_time(user: User) -> str:
    return user.created_at.replace("T09:", "T10:")


def user_brief(user: User) -> dict[str, Any]:
    """A user as `GET /users` lists it (pending users come without an id, as Zoom documents)."""
    brief: dict[str, Any] = {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": f"{user.first_name} {user.last_name}".strip(),
        "email": user.email,
        "type": user.type,
        "pmi": user.pmi,
        "timezone": user.timezone,
        "verified": 1,
        "dept": user.dept,
        "created_at": user.created_at,
        "user_created_at": user.created_at,
        "last_login_time": _login_time(user),
        "last_client_version": "6.1.0.45000(mac)",
        "language": "en-US",
        "status": user.status,
        "role_id": user.role_id,
        "group_ids": list(user.group_ids),
    }
    if user.status == "pending":
        for absent in ("id", "last_login_time", "last_client_version"):
            del brief[absent]
        brief["verified"] = 0
    return brief


def user_detail(user: User, account: Account) -> dict[str, Any]:
    """A user as `GET /users/{userId}` returns it."""
    detail = user_brief(user)
    detail.update(
        id=user.id,
        role_name=ROLE_NAMES.get(user.role_id, "Member"),
        use_pmi=False,
        personal_meeting_url=f"https://zoom.us/j/{user.pmi}",
        account_id=account.id,
        account_number=account.number,
        cluster="us01",
        jid=f"{user.id.lower()}@xmpp.zoom.us",
        login_types=[100],
        phone_numbers=[],
    )
    return detail


def group_brief(group: Group, members: int) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "total_members": members}


def member(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "type": user.type,
    }
