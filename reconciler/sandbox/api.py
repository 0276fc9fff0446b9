"""The Zoom endpoints under /v2: users, groups, members, settings and lock settings.

Every accepted settings, lock or membership write queues the webhook event Zoom would send
(`notify`).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox import notify
from reconciler.sandbox.guard import endpoint
from reconciler.sandbox.members import add_members, parse_members, remove_member
from reconciler.sandbox.paging import paginate
from reconciler.sandbox.patching import Target, patch_locks, patch_settings
from reconciler.sandbox.responses import (
    ZoomError,
    account_not_found,
    bad_json,
    group_not_found,
    invalid_parameter,
    no_content,
    user_not_found,
)
from reconciler.sandbox.runtime import Sandbox
from reconciler.sandbox.shapes import select_fields
from reconciler.sandbox.tenant import Group, User
from reconciler.sandbox.views import group_brief, member, user_brief, user_detail
from reconciler.sandbox.webhook_events import (
    MEMBER_ADDED,
    MEMBER_DELETED,
    OPERATOR_HEADER,
    operator_for,
)
from reconciler.vocab import FAMILIES, Family, LockFamily

USER_STATUSES = ("active", "inactive", "pending")


def _user(request: Request, sandbox: Sandbox) -> User:
    key = request.path_params["userId"]
    user = sandbox.tenant.user(key)
    if user is None:
        raise user_not_found(key)
    return user


def _group(request: Request, sandbox: Sandbox) -> Group:
    key = request.path_params["groupId"]
    group = sandbox.tenant.group(key)
    if group is None:
        raise group_not_found(key)
    return group


def _account(request: Request, sandbox: Sandbox, status: int = 404) -> None:
    key = request.path_params["accountId"]
    if not sandbox.tenant.is_account(key):
        raise account_not_found(key, status)


def _family(request: Request) -> Family:
    option = request.query_params.get("option") or "general"
    if option not in FAMILIES:
        raise invalid_parameter("option", f"Unsupported option: {option}.")
    return option


def _lock_family(request: Request) -> LockFamily:
    option = request.query_params.get("option") or "general"
    if option not in ("general", "meeting_security"):
        raise invalid_parameter("option", f"Unsupported option: {option}.")
    return option  # type: ignore[return-value]


def _filtered(request: Request, doc: dict[str, Any]) -> Response:
    fields = request.query_params.get("custom_query_fields")
    if fields:
        names = frozenset(name.strip() for name in fields.split(",") if name.strip())
        doc = select_fields(doc, names)
    return JSONResponse(doc)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_json() from None
    if not isinstance(body, dict):
        raise bad_json()
    return body


# users and groups ---------------------------------------------------------------


async def list_users(request: Request, sandbox: Sandbox) -> Response:
    query = request.query_params
    status = query.get("status") or "active"
    if status not in USER_STATUSES:
        raise invalid_parameter("status")
    role = query.get("role_id")
    users = [
        u for u in sandbox.tenant.users if u.status == status and (not role or u.role_id == role)
    ]
    listing = f"users:{status}:{role or ''}"
    page = paginate(users, query, listing, sandbox.clock(), sandbox.config.max_page_size)
    return JSONResponse({**page.fields(), "users": [user_brief(u) for u in page.items]})


async def get_user(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(user_detail(_user(request, sandbox), sandbox.tenant.account))


async def list_groups(request: Request, sandbox: Sandbox) -> Response:
    counts = Counter(gid for user in sandbox.tenant.users for gid in set(user.group_ids))
    groups = list(sandbox.tenant.groups.values())
    query = request.query_params
    items = [group_brief(g, counts[g.id]) for g in groups]
    if not query.get("page_size") and not query.get("next_page_token"):
        return JSONResponse({"groups": items, "total_records": len(items), "next_page_token": ""})
    page = paginate(items, query, "groups", sandbox.clock(), sandbox.config.max_page_size)
    body = {"groups": list(page.items), "total_records": page.total_records}
    return JSONResponse({**body, "next_page_token": page.next_page_token})


async def group_members(request: Request, sandbox: Sandbox) -> Response:
    group = _group(request, sandbox)
    members = sandbox.tenant.members(group.id)
    listing = f"members:{group.id}"
    page = paginate(
        members, request.query_params, listing, sandbox.clock(), sandbox.config.max_page_size
    )
    return JSONResponse({"members": [member(u) for u in page.items], **page.fields()})


async def add_group_members(request: Request, sandbox: Sandbox) -> Response:
    group = _group(request, sandbox)
    operator = operator_for(sandbox.tenant, request.headers.get(OPERATOR_HEADER))
    added = add_members(group, parse_members(sandbox.tenant, await _body(request)))
    sandbox.changed()
    notify.announce_members(sandbox, MEMBER_ADDED, group, added, operator)
    stamp = datetime.fromtimestamp(sandbox.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return JSONResponse({"ids": ",".join(user.id for user in added), "added_at": stamp}, 201)


async def delete_group_member(request: Request, sandbox: Sandbox) -> Response:
    group = _group(request, sandbox)
    key = request.path_params["memberId"]
    user = sandbox.tenant.user(key)
    if user is None:
        raise user_not_found(key)
    operator = operator_for(sandbox.tenant, request.headers.get(OPERATOR_HEADER))
    if remove_member(group, user):
        sandbox.changed()
        notify.announce_members(sandbox, MEMBER_DELETED, group, [user], operator)
    return no_content()


# settings -----------------------------------------------------------------------


async def get_user_settings(request: Request, sandbox: Sandbox) -> Response:
    user, family = _user(request, sandbox), _family(request)
    return _filtered(request, sandbox.resolver.user_settings(user, family))


async def patch_user_settings(request: Request, sandbox: Sandbox) -> Response:
    user, family = _user(request, sandbox), _family(request)
    group = sandbox.resolver.primary_group(user)
    target = Target("user", group=group, user=user)
    return await _patch(request, sandbox, target, family)


async def get_group_settings(request: Request, sandbox: Sandbox) -> Response:
    group, family = _group(request, sandbox), _family(request)
    return _filtered(request, sandbox.resolver.group_settings(group, family))


async def patch_group_settings(request: Request, sandbox: Sandbox) -> Response:
    group, family = _group(request, sandbox), _family(request)
    return await _patch(request, sandbox, Target("group", group=group), family)


async def get_account_settings(request: Request, sandbox: Sandbox) -> Response:
    _account(request, sandbox)
    return _filtered(request, sandbox.resolver.account_settings(_family(request)))


async def patch_account_settings(request: Request, sandbox: Sandbox) -> Response:
    _account(request, sandbox)
    return await _patch(request, sandbox, Target("account"), _family(request))


async def _patch(request: Request, sandbox: Sandbox, target: Target, family: Family) -> Response:
    body = await _body(request)
    operator = operator_for(sandbox.tenant, request.headers.get(OPERATOR_HEADER))
    before = notify.before_settings(sandbox, target, family)
    written = patch_settings(sandbox.resolver, target, family, body, sandbox.config.locked_patch)
    sandbox.changed()
    notify.announce_settings(sandbox, target, family, written, before, operator)
    return no_content()


# lock settings ------------------------------------------------------------------


async def get_group_locks(request: Request, sandbox: Sandbox) -> Response:
    group, family = _group(request, sandbox), _lock_family(request)
    return _filtered(request, sandbox.resolver.lock_document(group, family))


async def patch_group_locks(request: Request, sandbox: Sandbox) -> Response:
    group, family = _group(request, sandbox), _lock_family(request)
    return await _patch_locks(request, sandbox, group, family)


async def get_account_locks(request: Request, sandbox: Sandbox) -> Response:
    _account(request, sandbox, status=400)  # the spec documents 400 (code 2001) here
    return _filtered(request, sandbox.resolver.lock_document(None, _lock_family(request)))


async def patch_account_locks(request: Request, sandbox: Sandbox) -> Response:
    _account(request, sandbox)
    return await _patch_locks(request, sandbox, None, _lock_family(request))


async def _patch_locks(
    request: Request, sandbox: Sandbox, group: Group | None, family: LockFamily
) -> Response:
    body = await _body(request)
    operator = operator_for(sandbox.tenant, request.headers.get(OPERATOR_HEADER))
    before = notify.before_locks(sandbox, group, family)
    written = patch_locks(sandbox.resolver, group, family, body)
    sandbox.changed()
    notify.announce_locks(sandbox, group, written, before, operator)
    return no_content()


def _user_key(request: Request, sandbox: Sandbox) -> str | None:
    user = sandbox.tenant.user(request.path_params["userId"])
    return f"user:{user.id}" if user else None


Method = Literal["GET", "PATCH", "POST", "DELETE"]
_MEDIUM = "MEDIUM"


def routes() -> list[Route]:
    def route(
        path: str, method: Method, handler: Any, label: str = _MEDIUM, key: Any = None
    ) -> Route:
        return Route(path, endpoint(label, handler, key), methods=[method])

    return [
        route("/users", "GET", list_users),
        route("/users/{userId}", "GET", get_user, label="LIGHT"),
        route("/users/{userId}/settings", "GET", get_user_settings),
        route("/users/{userId}/settings", "PATCH", patch_user_settings, key=_user_key),
        route("/groups", "GET", list_groups),
        route("/groups/{groupId}/members", "GET", group_members),
        route("/groups/{groupId}/members", "POST", add_group_members),
        route("/groups/{groupId}/members/{memberId}", "DELETE", delete_group_member, "LIGHT"),
        route("/groups/{groupId}/settings", "GET", get_group_settings),
        route("/groups/{groupId}/settings", "PATCH", patch_group_settings),
        route("/groups/{groupId}/lock_settings", "GET", get_group_locks),
        route("/groups/{groupId}/lock_settings", "PATCH", patch_group_locks),
        route("/accounts/{accountId}/settings", "GET", get_account_settings),
        route("/accounts/{accountId}/settings", "PATCH", patch_account_settings),
        route("/accounts/{accountId}/lock_settings", "GET", get_account_locks),
        route("/accounts/{accountId}/lock_settings", "PATCH", patch_account_locks),
    ]


__all__ = ["ZoomError", "routes"]
