"""Typed access to Zoom's settings endpoints by level and option family, and paged listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypedDict
from urllib.parse import quote

from reconciler.vocab import Family, Level, LockFamily, LockLevel, family_option
from reconciler.zoom.client import JSON, Params, ZoomClient

# The 2023 spec's ceiling for users and group members; newer specs allow more, Zoom accepts 300.
MAX_PAGE_SIZE = 300
OWN_ACCOUNT = "me"


class UserSummary(TypedDict, total=False):
    id: str
    email: str
    status: str
    type: int
    group_ids: list[str]
    first_name: str
    last_name: str


class GroupSummary(TypedDict, total=False):
    id: str
    name: str
    total_members: int


def _segment(value: str) -> str:
    return quote(value, safe="@")


def settings_path(level: Level, target_id: str = OWN_ACCOUNT) -> str:
    collection = {"user": "users", "group": "groups", "account": "accounts"}[level]
    return f"/{collection}/{_segment(target_id)}/settings"


def lock_settings_path(level: LockLevel, target_id: str = OWN_ACCOUNT) -> str:
    collection = "groups" if level == "group" else "accounts"
    return f"/{collection}/{_segment(target_id)}/lock_settings"


def _option_params(family: Family | LockFamily, fields: list[str] | None = None) -> Params:
    params: dict[str, str | int] = {}
    option = family_option(family)
    if option is not None:
        params["option"] = option
    if fields:
        params["custom_query_fields"] = ",".join(fields)
    return params


async def get_settings(
    zoom: ZoomClient,
    level: Level,
    target_id: str,
    family: Family,
    *,
    fields: list[str] | None = None,
) -> JSON:
    """One family of a user's, group's or account's effective settings."""
    return await zoom.get_json(settings_path(level, target_id), _option_params(family, fields))


async def get_lock_settings(
    zoom: ZoomClient, level: LockLevel, target_id: str, family: LockFamily = "general"
) -> JSON:
    return await zoom.get_json(lock_settings_path(level, target_id), _option_params(family))


async def get_user(zoom: ZoomClient, user_id_or_email: str) -> UserSummary:
    body: Any = await zoom.get_json(f"/users/{_segment(user_id_or_email)}")
    user: UserSummary = body
    return user


async def _paged(zoom: ZoomClient, path: str, key: str, params: Params) -> AsyncIterator[Any]:
    token = ""
    while True:
        page_params = dict(params, next_page_token=token) if token else params
        page = await zoom.get_json(path, page_params)
        for item in page.get(key) or []:
            yield item
        token = page.get("next_page_token") or ""
        if not token:
            return


async def iter_users(
    zoom: ZoomClient, *, status: str = "active", page_size: int = MAX_PAGE_SIZE
) -> AsyncIterator[UserSummary]:
    """Every user with this status, one page request per `page_size` users."""
    params: Params = {"status": status, "page_size": min(page_size, MAX_PAGE_SIZE)}
    async for user in _paged(zoom, "/users", "users", params):
        yield user


async def iter_groups(zoom: ZoomClient) -> AsyncIterator[GroupSummary]:
    async for group in _paged(zoom, "/groups", "groups", {}):
        yield group


async def iter_group_members(
    zoom: ZoomClient, group_id: str, *, page_size: int = MAX_PAGE_SIZE
) -> AsyncIterator[UserSummary]:
    path = f"/groups/{_segment(group_id)}/members"
    params: Params = {"page_size": min(page_size, MAX_PAGE_SIZE)}
    async for member in _paged(zoom, path, "members", params):
        yield member
