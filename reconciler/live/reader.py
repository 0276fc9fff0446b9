"""The one reader of live Zoom state: the directory, settings reads, lock documents and lock views.

Plan, explain and apply's NOT APPLIED diagnosis read through it; audit and export will too. It
shares one ZoomClient (one token, one pacer) across a run, reads each lock document and each
lock holder's values once however many targets ask, and hands back settings in the repo's shape.

A read that Zoom answers with an error comes back as `Unreadable` with its cause, never as an
empty document: a target whose state is unknown must never look in sync. A spent daily limit is
raised instead, since every later read would meet it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from reconciler.desired.state import Settings, dotted
from reconciler.diff import MISSING, lookup
from reconciler.errors import DailyLimitReached, NotFound, WrongRecord, ZoomAPIError
from reconciler.live.directory import Directory
from reconciler.live.locks import (
    ACCOUNT,
    ACCOUNT_ID,
    Holder,
    LockVerdict,
    LockView,
    covering_lock,
    lock_verdict,
)
from reconciler.shapes import lock_repo_shape, option_ids, repo_shape
from reconciler.vocab import (
    LOCK_FAMILIES,
    Family,
    LeafPath,
    Level,
    LockFamily,
    LockLevel,
    email_key,
)
from reconciler.zoom import (
    ZoomClient,
    get_lock_settings,
    get_settings,
    get_user,
    iter_group_members,
    iter_groups,
    iter_users,
    map_concurrently,
)
from reconciler.zoom.endpoints import UserSummary

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")


class OnceEach(Generic[KeyT, ValueT]):
    """Concurrent callers asking for the same key share one fetch."""

    def __init__(self, fetch: Callable[[KeyT], Awaitable[ValueT]]) -> None:
        self._fetch = fetch
        self._tasks: dict[KeyT, asyncio.Task[ValueT]] = {}

    async def get(self, key: KeyT) -> ValueT:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._fetch(key))
        return await self._tasks[key]


@dataclass(frozen=True)
class LiveDoc:
    """One family of one target as Zoom has it now, in the repo's shape."""

    values: dict[str, Any]
    # Authentication option name -> id (empty for the other families).
    option_ids: dict[str, str]


@dataclass(frozen=True)
class Unreadable:
    """A read Zoom answered with an error: the target's state in this family is unknown."""

    error: ZoomAPIError

    @property
    def cause(self) -> str:
        return str(self.error)


class LockOverlay(Protocol):
    """What the repo says about a lock holder, for the lock views of a run."""

    def locks_of(self, holder: Holder) -> Settings | None:
        """The locks a repo file sets for the holder (they name their file and line)."""

    def applies(self, holder: Holder) -> bool:
        """Whether this run applies the holder, so its repo locks and values count above."""

    def settings_of(self, holder: Holder) -> Settings | None:
        """The holder's desired settings, when this run applies them."""


class LiveOnly:
    """No repo: the locks and values above a target are Zoom's as they are (audit, diagnosis)."""

    def locks_of(self, holder: Holder) -> Settings | None:
        return None

    def applies(self, holder: Holder) -> bool:
        return False

    def settings_of(self, holder: Holder) -> Settings | None:
        return None


LIVE_ONLY = LiveOnly()


class LiveReader:
    def __init__(self, zoom: ZoomClient, directory: Directory | None = None) -> None:
        self.zoom = zoom
        self.directory = directory or Directory()
        self._lock_docs: OnceEach[tuple[LockLevel, str, LockFamily], dict[str, Any]] = OnceEach(
            self._fetch_lock_doc
        )
        self._holder_values: OnceEach[tuple[LockLevel, str, Family], dict[str, Any]] = OnceEach(
            self._fetch_holder_values
        )
        self._groups_loaded = False

    def fresh(self) -> LiveReader:
        """The same client and directory, without cached lock documents or values: for reads
        after writes, which must see Zoom as it is now."""
        return LiveReader(self.zoom, self.directory)

    # -- the directory ------------------------------------------------------------------------

    async def load_groups(self) -> None:
        if self._groups_loaded:
            return
        async for group in iter_groups(self.zoom):
            self.directory.groups_by_name[group["name"]] = group
            self.directory.groups_by_id[group["id"]] = group
        self._groups_loaded = True

    async def list_active_users(self) -> None:
        if self.directory.listed_all_users:
            return
        async for user in iter_users(self.zoom, status="active"):
            self.directory.add_user(user)
        self.directory.listed_all_users = True

    async def look_up_users(self, emails: list[str], *, workers: int = 8) -> None:
        """One GET per email the directory lacks, `workers` at a time under the client's pacer
        (a repo of many departed users plans at the account's rate); an unknown email stays
        absent. Any other failure is raised: the run cannot tell which users exist."""
        missing = [email for email in dict.fromkeys(emails) if email not in self.directory.users]
        async for outcome in map_concurrently(self._look_up, missing, workers=workers):
            if outcome.error is not None:
                raise outcome.error
            if outcome.result is not None:
                self.directory.add_user(outcome.result)

    async def _look_up(self, email: str) -> UserSummary | None:
        try:
            return await get_user(self.zoom, email)
        except NotFound:
            return None
        except WrongRecord as error:
            # Another user's record is never taken for the one asked: the file is skipped,
            # saying why (see `check_named_targets`).
            self.directory.misanswered[email] = error.message
            return None

    async def user_by_id(self, user_id: str) -> UserSummary:
        found = self.directory.users_by_id.get(user_id)
        if found is None:
            found = await get_user(self.zoom, user_id)
            self.directory.add_user(found)
        return found

    async def member_emails(self, group_id: str) -> list[str]:
        return [email_key(m["email"]) async for m in iter_group_members(self.zoom, group_id)]

    # -- settings -----------------------------------------------------------------------------

    async def read(self, level: Level, target_id: str, family: Family) -> LiveDoc | Unreadable:
        """One family of a target's effective settings, or why Zoom would not say."""
        try:
            doc = await get_settings(self.zoom, level, target_id, family)
        except DailyLimitReached:
            raise
        except ZoomAPIError as error:
            return Unreadable(error)
        return LiveDoc(repo_shape(family, doc), option_ids(doc))

    async def _fetch_holder_values(self, key: tuple[LockLevel, str, Family]) -> dict[str, Any]:
        kind, target_id, family = key
        return repo_shape(family, await get_settings(self.zoom, kind, target_id, family))

    async def holder_values(self, holder: Holder, family: Family) -> dict[str, Any]:
        """A lock holder's live values of one family, read once per run."""
        return await self._holder_values.get((holder.kind, holder.id, family))

    # -- locks --------------------------------------------------------------------------------

    async def _fetch_lock_doc(self, key: tuple[LockLevel, str, LockFamily]) -> dict[str, Any]:
        kind, target_id, lock_family = key
        return lock_repo_shape(
            lock_family, await get_lock_settings(self.zoom, kind, target_id, lock_family)
        )

    async def read_locks(
        self, level: Level, target_id: str, lock_family: LockFamily
    ) -> LiveDoc | Unreadable:
        """A holder's lock settings of one family as Zoom has them now (not cached)."""
        if level == "user":
            return Unreadable(ZoomAPIError(f"a user has no lock settings ({target_id})"))
        try:
            doc = await get_lock_settings(self.zoom, level, target_id, lock_family)
        except DailyLimitReached:
            raise
        except ZoomAPIError as error:
            return Unreadable(error)
        return LiveDoc(lock_repo_shape(lock_family, doc), {})

    async def lock_doc(self, holder: Holder, lock_family: LockFamily) -> dict[str, Any]:
        """A holder's live lock settings of one family, in the repo's shape, read once."""
        return await self._lock_docs.get((holder.kind, holder.id, lock_family))

    def lock_views(self, overlay: LockOverlay = LIVE_ONLY) -> LockViews:
        return LockViews(self, overlay)


class LockViews:
    """The lock views of one run: each holder's view built once, with the run's overlay."""

    def __init__(self, reader: LiveReader, overlay: LockOverlay) -> None:
        self.reader = reader
        self.overlay = overlay
        self._views: OnceEach[str, LockView | None] = OnceEach(self._build)

    async def view(self, holder: Holder) -> LockView:
        docs = await asyncio.gather(
            *(self.reader.lock_doc(holder, family) for family in LOCK_FAMILIES)
        )
        live = dict(zip(LOCK_FAMILIES, docs, strict=True))
        overlay = self.overlay
        return LockView(holder, live, overlay.locks_of(holder), applied=overlay.applies(holder))

    async def account(self) -> LockView:
        view = await self._views.get(ACCOUNT_ID)
        assert view is not None  # the account always has a view
        return view

    async def group(self, group_id: str) -> LockView | None:
        """The view of a group by id; None when Zoom has no such group."""
        return await self._views.get(group_id)

    async def above(self, user: UserSummary) -> tuple[LockView, ...]:
        """The views over a user: the account, then the primary (first) group, as Zoom applies."""
        views: list[LockView | None] = [await self.account()]
        group_ids = user.get("group_ids") or []
        if group_ids:
            views.append(await self.group(group_ids[0]))
        return tuple(view for view in views if view is not None)

    async def _build(self, key: str) -> LockView | None:
        if key == ACCOUNT_ID:
            return await self.view(ACCOUNT)
        summary = self.reader.directory.groups_by_id.get(key)
        if summary is None:
            return None
        return await self.view(Holder("group", summary["name"], key))

    async def holder_value(self, view: LockView, family: Family, path: LeafPath) -> Any:
        """The value a holder holds a field at: the repo's when this run applies it, else Zoom's."""
        desired = self.overlay.settings_of(view.holder)
        if desired is not None and dotted(path) in desired.sources.get(family, {}):
            return lookup(desired.values[family], path)
        return lookup(await self.reader.holder_values(view.holder, family), path)

    async def verdict(
        self, views: tuple[LockView, ...], family: Family, path: LeafPath, wanted: Any
    ) -> LockVerdict:
        """What the locks above a target make of the value the repo wants for one field."""
        lock = covering_lock(views, family, path)
        held = MISSING
        if lock is not None and lock.view.applied:
            held = await self.holder_value(lock.view, family, path)
        return lock_verdict(lock, wanted, held)
