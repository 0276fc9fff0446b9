"""Typed access to Zoom's settings endpoints by level and option family, and paged listings.

Each answer is parsed into its shape (`answers.py`) and handed back as plain data. A user asked
for by email or id must come back as that user (`WrongRecord`), and a listing must end: a
`next_page_token` seen before, or more pages than `total_records` allows, stops it (`BadAnswer`).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any, TypedDict, cast
from urllib.parse import quote

from reconciler.errors import BadAnswer, WrongRecord
from reconciler.vocab import Family, Level, LockFamily, LockLevel, email_key, family_option
from reconciler.zoom.answers import (
    GroupPage,
    LockDocument,
    MemberPage,
    Page,
    PendingUserPage,
    SettingsDocument,
    UserPage,
    UserRecord,
    plain,
)
from reconciler.zoom.client import JSON, Params, ZoomClient

# The 2023 spec's ceiling for users and group members; newer specs allow more, Zoom accepts 300.
MAX_PAGE_SIZE = 300
OWN_ACCOUNT = "me"
# Pages a listing may run past what `total_records` allows (records added while it runs).
PAGE_SLACK = 2
# The most records a listing reads: Zoom's largest accounts have some hundreds of thousands of
# users. A `total_records` above it is not believed, and with none a listing still ends.
MAX_RECORDS = 2_000_000
MAX_PAGES = math.ceil(MAX_RECORDS / MAX_PAGE_SIZE)
_STOPPED = "stopped so that the listing cannot loop; run again, and report it to Zoom if it stays"


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
    path, params = settings_path(level, target_id), _option_params(family, fields)
    return plain(await zoom.get_answer(path, params, SettingsDocument))


async def get_lock_settings(
    zoom: ZoomClient, level: LockLevel, target_id: str, family: LockFamily = "general"
) -> JSON:
    path, params = lock_settings_path(level, target_id), _option_params(family)
    return plain(await zoom.get_answer(path, params, LockDocument))


async def get_user(zoom: ZoomClient, user_id_or_email: str) -> UserSummary:
    """The user asked for, by id or email; `WrongRecord` when Zoom answers with another."""
    path = f"/users/{_segment(user_id_or_email)}"
    user = await zoom.get_answer(path, None, UserRecord)
    if not _is_the_one_asked(user, user_id_or_email):
        redact = zoom.redactor
        raise WrongRecord(
            f"Zoom answered with another user's record (id '{redact.shown(user.id)}', "
            f"email '{redact.shown(user.email)}') than the one asked for; not used: "
            "check the user in Zoom, then run again",
            status=200,
            method="GET",
            path=path,
        )
    return cast(UserSummary, plain(user))


def _is_the_one_asked(user: UserRecord, asked: str) -> bool:
    if asked == OWN_ACCOUNT:
        return True
    if "@" in asked:
        return email_key(user.email) == email_key(asked)  # ASCII letters only: see email_key
    return user.id == asked


class _Listing:
    """Where a listing stands, to stop one that does not end."""

    def __init__(self, path: str, page_size: int | None) -> None:
        self.path = path
        self.page_size = page_size
        self.pages = 0
        self.tokens: set[str] = set()
        self.total = 0
        self.counted = False

    def next_token(self, page: Page, items: int) -> str:
        """The token for the next page ("" at the end), once the page is checked."""
        self.pages += 1
        if page.total_records is not None:
            self._count(page.total_records)
        if self.page_size is None:
            self.page_size = max(1, items)  # unasked, Zoom sends what it sends per page
        token = page.next_page_token or ""
        if token and token in self.tokens:
            self._stop(f"next_page_token came back again after {self.pages} pages")
        if token and self.pages >= self._most_pages():
            self._stop(self._too_many())
        self.tokens.add(token)
        return token

    def _count(self, total: int) -> None:
        """The bound comes from the first page's count: a later page may add the records that
        fit in the slack (users added while the listing runs), never raise it further."""
        if total > MAX_RECORDS:
            self._stop(
                f"total_records is {total:,}, more than the {MAX_RECORDS:,} records a listing "
                "reads"
            )
        if not self.counted:
            self.total, self.counted = total, True
            return
        most = self.total + PAGE_SLACK * (self.page_size or MAX_PAGE_SIZE)
        if total > most:
            self._stop(f"total_records grew from {self.total:,} to {total:,} in {self.pages} pages")

    def _most_pages(self) -> int:
        if not self.counted or self.page_size is None:
            return MAX_PAGES
        return min(MAX_PAGES, math.ceil(self.total / self.page_size) + PAGE_SLACK)

    def _too_many(self) -> str:
        if not self.counted:
            return f"{self.pages} pages and Zoom still says there are more"
        return (
            f"{self.pages} pages of {self.page_size} for {self.total} records (total_records) "
            "and Zoom still says there are more"
        )

    def _stop(self, why: str) -> None:
        raise BadAnswer(f"Zoom's pages do not end: {why}; {_STOPPED}", method="GET", path=self.path)


async def _paged(
    zoom: ZoomClient, path: str, key: str, params: Params, shape: type[Page]
) -> AsyncIterator[dict[str, Any]]:
    size = params.get("page_size")
    listing = _Listing(path, size if isinstance(size, int) else None)
    token = ""
    while True:
        page_params = dict(params, next_page_token=token) if token else params
        page = await zoom.get_answer(path, page_params, shape)
        items: list[Any] = getattr(page, key) or []
        token = listing.next_token(page, len(items))
        for item in items:
            yield plain(item)
        if not token:
            return


async def iter_users(
    zoom: ZoomClient, *, status: str = "active", page_size: int = MAX_PAGE_SIZE
) -> AsyncIterator[UserSummary]:
    """Every user with this status, one page request per `page_size` users."""
    params: Params = {"status": status, "page_size": min(page_size, MAX_PAGE_SIZE)}
    # Zoom lists pending users without an id; every other user must have one.
    shape = PendingUserPage if status == "pending" else UserPage
    async for user in _paged(zoom, "/users", "users", params, shape):
        yield cast(UserSummary, user)


async def iter_groups(zoom: ZoomClient) -> AsyncIterator[GroupSummary]:
    async for group in _paged(zoom, "/groups", "groups", {}, GroupPage):
        yield cast(GroupSummary, group)


async def iter_group_members(
    zoom: ZoomClient, group_id: str, *, page_size: int = MAX_PAGE_SIZE
) -> AsyncIterator[UserSummary]:
    path = f"/groups/{_segment(group_id)}/members"
    params: Params = {"page_size": min(page_size, MAX_PAGE_SIZE)}
    async for member in _paged(zoom, path, "members", params, MemberPage):
        yield cast(UserSummary, member)
