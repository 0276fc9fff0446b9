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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from reconciler.desired.state import Settings, dotted
from reconciler.diff import MISSING, lookup
from reconciler.errors import (
    DailyLimitReached,
    NotFound,
    ReconcilerError,
    WrongRecord,
    ZoomAPIError,
)
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
    ProgressHook,
    email_key,
    no_progress,
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
    """Concurrent callers asking for the same key share one fetch, kept until forgotten."""

    def __init__(
        self,
        fetch: Callable[[KeyT], Awaitable[ValueT]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._tasks: dict[KeyT, asyncio.Task[ValueT]] = {}
        self._since: dict[KeyT, float] = {}

    async def get(self, key: KeyT) -> ValueT:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._fetch(key))
            self._since[key] = self._clock()
        return await self._tasks[key]

    def forget(self, keep: Callable[[KeyT, float], bool]) -> None:
        """Drop every key `keep(key, fetched_at)` refuses: the next get fetches it again."""
        for key in [key for key, since in self._since.items() if not keep(key, since)]:
            del self._tasks[key], self._since[key]


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


@dataclass(frozen=True)
class UserOutcome(Generic[ValueT]):
    """One user of `LiveReader.each_user`: what `fn` made of them, or the error that stopped it."""

    index: int  # the user's place in the list walked
    user: UserSummary
    result: ValueT | None = None
    error: ReconcilerError | None = None


class LiveReader:
    """Reads Zoom for one or many runs. What it keeps (the directory, each holder's lock documents
    and values) is kept until `invalidate` drops it: a command drops nothing, a process that
    lives for days drops by age or by what it knows has changed."""

    def __init__(
        self,
        zoom: ZoomClient,
        directory: Directory | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.zoom = zoom
        self.directory = directory or Directory()
        self._clock = clock
        self._lock_docs: OnceEach[tuple[LockLevel, str, LockFamily], dict[str, Any]] = OnceEach(
            self._fetch_lock_doc, clock
        )
        self._holder_values: OnceEach[tuple[LockLevel, str, Family], dict[str, Any]] = OnceEach(
            self._fetch_holder_values, clock
        )
        self._groups_loaded = False
        self._directory_since: float | None = None  # when the directory was first filled

    def fresh(self) -> LiveReader:
        """The same client and directory, without cached lock documents or values: for reads
        after writes, which must see Zoom as it is now."""
        return LiveReader(self.zoom, self.directory, clock=self._clock)

    def invalidate(
        self,
        *,
        target: tuple[Level, str] | None = None,
        holder: Holder | None = None,
        directory: bool = False,
        older_than: float | None = None,
    ) -> None:
        """Forget what was read, so the next read asks Zoom again:
        - `target` (level, id): a user's directory record (their email, status and groups), or
          for the account or a group everything kept of it as a lock holder;
        - `holder`: a holder's lock documents and the values it holds fields at;
        - `directory`: the users and groups as listed (and every user's record);
        - `older_than` (seconds): whatever was read longer ago than that.
        """
        holders: set[tuple[str, str]] = set()
        if holder is not None:
            holders.add((holder.kind, holder.id))
        if target is not None:
            level, target_id = target
            if level == "user":
                self._forget_user(target_id)
            else:
                holders.add((level, target_id))
        now = self._clock()

        def keep(key: tuple[LockLevel, str, Any], since: float) -> bool:
            stale = older_than is not None and now - since > older_than
            return not stale and (key[0], key[1]) not in holders

        self._lock_docs.forget(keep)
        self._holder_values.forget(keep)
        since = self._directory_since
        if directory or (older_than is not None and since is not None and now - since > older_than):
            self.directory = Directory()
            self._groups_loaded = False
            self._directory_since = None

    def _forget_user(self, user_id: str) -> None:
        directory = self.directory
        user = directory.users_by_id.pop(user_id, None)
        if user is not None:
            key = email_key(user["email"])
            directory.users.pop(key, None)
            directory.ambiguous.pop(key, None)
            directory.misanswered.pop(key, None)
            # A listing no longer covers every user: the next full run lists again.
            directory.listed_all_users = False

    def _filled(self) -> None:
        if self._directory_since is None:
            self._directory_since = self._clock()

    async def each_user(
        self,
        users: Sequence[UserSummary],
        fn: Callable[[UserSummary], Awaitable[ValueT]],
        *,
        workers: int,
        progress: ProgressHook = no_progress,
    ) -> AsyncIterator[UserOutcome[ValueT]]:
        """`fn` over the users, `workers` at a time under the client's pacer, each outcome as it
        comes (not in the users' order: `index` says whose). A user whose email Zoom gives more
        than one identity is never passed to `fn` (their outcome is the WrongRecord saying why).
        A spent daily limit is raised: every later user would meet it too."""
        done = 0

        async def one(item: tuple[int, UserSummary]) -> ValueT:
            ambiguous = self.directory.identity_problem(item[1])
            if ambiguous is not None:
                raise WrongRecord(ambiguous)  # whose settings these are cannot be told
            return await fn(item[1])

        async for outcome in map_concurrently(one, enumerate(users), workers=workers):
            done += 1
            progress(done, len(users))
            index, user = outcome.item
            if isinstance(outcome.error, DailyLimitReached):
                raise outcome.error
            yield UserOutcome(index, user, outcome.result, outcome.error)

    # -- the directory ------------------------------------------------------------------------

    async def load_groups(self) -> None:
        if self._groups_loaded:
            return
        async for group in iter_groups(self.zoom):
            self.directory.groups_by_name[group["name"]] = group
            self.directory.groups_by_id[group["id"]] = group
        self._groups_loaded = True
        self._filled()

    async def list_active_users(self) -> None:
        if self.directory.listed_all_users:
            return
        async for user in iter_users(self.zoom, status="active"):
            self.directory.add_user(user)
        self.directory.listed_all_users = True
        self._filled()

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
                self._filled()

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
        primary = self.reader.directory.primary_group(user)
        if primary is not None:
            views.append(await self.group(primary))
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
