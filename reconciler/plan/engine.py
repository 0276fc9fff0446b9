"""Build a Plan: resolve targets, read what is managed, diff strictly, respect locks.

Reads go through one ZoomClient (paced at the account's rate) with a fixed pool of workers that
stream over the users, so memory holds changes, not whole settings. Lock settings and the values
of the levels that hold locks are read once each and shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from reconciler.desired.layering import effective_user_settings
from reconciler.desired.state import Account, DesiredState, Group, Settings, dotted, nest
from reconciler.errors import DailyLimitReached, ZoomAPIError
from reconciler.plan.diff import LeafChange, diff_managed, lookup, strictly_equal
from reconciler.plan.directory import (
    INDIVIDUAL_LOOKUP_LIMIT,
    Directory,
    check_named_targets,
    check_selected_groups,
    check_selected_users,
    list_active_users,
    load_groups,
    look_up_users,
)
from reconciler.plan.locks import (
    Holder,
    LockView,
    as_lock_family,
    lock_zoom_shape,
    read_lock_doc,
)
from reconciler.plan.model import Change, Plan, Request, TargetRef, Unknown
from reconciler.plan.scope import Scope
from reconciler.plan.shapes import option_ids, patch_bodies, repo_shape, unsendable
from reconciler.schemas import LOCK_FAMILIES, Family, Level, LockFamily, family_option
from reconciler.zoom import (
    ZoomClient,
    get_settings,
    iter_group_members,
    map_concurrently,
)
from reconciler.zoom.endpoints import UserSummary, lock_settings_path, settings_path

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")
ProgressHook = Callable[[int, int], None]  # (done, total) user targets


@dataclass(frozen=True)
class _LockedAboveLive:
    """Locked by a holder this run does not plan: compare with the target's live value."""

    reason: str


class OnceEach(Generic[KeyT, ValueT]):
    """Concurrent callers asking for the same key share one fetch."""

    def __init__(self, fetch: Callable[[KeyT], Awaitable[ValueT]]) -> None:
        self._fetch = fetch
        self._tasks: dict[KeyT, asyncio.Task[ValueT]] = {}

    async def get(self, key: KeyT) -> ValueT:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._fetch(key))
        return await self._tasks[key]


@dataclass
class TargetResult:
    ref: TargetRef
    changes: list[Change] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    reads_skipped: int = 0


@dataclass(frozen=True)
class PlanTarget:
    """One target to plan: its level, id, reference, desired settings and the locks above it."""

    level: Level
    target_id: str
    ref: TargetRef
    desired: Settings
    views: tuple[LockView, ...]


class Planner:
    def __init__(
        self,
        state: DesiredState,
        zoom: ZoomClient,
        scope: Scope,
        *,
        workers: int,
        progress: ProgressHook | None = None,
    ) -> None:
        self.state = state
        self.zoom = zoom
        self.scope = scope
        self.workers = workers
        self.progress = progress or (lambda _done, _total: None)
        self.directory = Directory()
        self._lock_docs: OnceEach[tuple[str, str, LockFamily], dict[str, Any]] = OnceEach(
            self._fetch_lock_doc
        )
        self._holder_values: OnceEach[tuple[str, str, Family], dict[str, Any]] = OnceEach(
            self._fetch_holder_values
        )
        self._desired_cache: dict[tuple[str, ...], Settings] = {}
        self.planned_emails: set[str] = set()
        self._views: OnceEach[str, LockView | None] = OnceEach(self._fetch_view)

    # -- resolve ---------------------------------------------------------------------------

    async def resolve(self) -> list[UserSummary]:
        """Load groups and the users this run covers; raise on files naming unknown targets."""
        await load_groups(self.zoom, self.directory)
        named = [email for email in self.state.users if self.scope.wants_user(email)]
        selected = sorted(self.scope.users or ())  # users a selector names, files or not
        members = await self._profile_members()
        wanted = list(dict.fromkeys([*named, *selected, *members]))
        if self._needs_all_users() or len(wanted) > INDIVIDUAL_LOOKUP_LIMIT:
            await list_active_users(self.zoom, self.directory)
        await look_up_users(self.zoom, self.directory, wanted)
        check_named_targets(self.state, self.directory, named)
        if not self.scope.since_revision:
            check_selected_users(self.directory, selected)
            check_selected_groups(self.state, self.scope.groups or ())
        users = self._user_targets(wanted)
        self.planned_emails = {user["email"].lower() for user in users}
        return users

    async def _profile_members(self) -> list[str]:
        """Emails of the members of groups whose `members:` profile this run covers."""
        emails: list[str] = []
        for name in sorted(self.scope.member_groups):
            group = self.directory.groups_by_name.get(name)
            if group is not None:
                emails += [
                    m["email"].lower() async for m in iter_group_members(self.zoom, group["id"])
                ]
        return emails

    def _needs_all_users(self) -> bool:
        """Defaults or member profiles reach users that no file names."""
        reaches_unnamed = bool(self.state.defaults) or bool(self.state.profiles())
        return reaches_unnamed and self.scope.users is None

    def _user_targets(self, wanted: list[str]) -> list[UserSummary]:
        if self.scope.users is not None or not self.directory.listed_all_users:
            found = (self.directory.users.get(email) for email in wanted)
            return [user for user in found if user and user.get("status", "active") == "active"]
        return [u for u in self.directory.users.values() if u.get("status", "active") == "active"]

    # -- lock views and the values locks hold ----------------------------------------------

    async def _fetch_lock_doc(self, key: tuple[str, str, LockFamily]) -> dict[str, Any]:
        return await read_lock_doc(self.zoom, *key)

    async def lock_view(self, holder: Holder, desired: Settings | None) -> LockView:
        docs = await asyncio.gather(
            *(self._lock_docs.get((holder.kind, holder.id, family)) for family in LOCK_FAMILIES)
        )
        live = dict(zip(LOCK_FAMILIES, docs, strict=True))
        return LockView(holder, live, desired, applied=self.applies_in_this_run(holder))

    async def _fetch_holder_values(self, key: tuple[str, str, Family]) -> dict[str, Any]:
        kind, target_id, family = key
        doc = await get_settings(self.zoom, kind, target_id, family)  # type: ignore[arg-type]
        return repo_shape(family, doc)

    async def holder_value(self, view: LockView, family: Family, path: tuple[str, ...]) -> Any:
        holder = view.holder
        desired = self._holder_desired(holder)
        if desired is not None and dotted(path) in desired.sources.get(family, {}):
            return lookup(desired.values[family], path)
        values = await self._holder_values.get((holder.kind, holder.id, family))
        return lookup(values, path)

    def _managed(self, holder: Holder) -> Account | Group | None:
        """The repo's account or group file for a holder, if one manages it."""
        if holder.kind == "account":
            return self.state.account
        return self.state.groups.get(holder.name)

    def holder_locks(self, holder: Holder) -> Settings | None:
        """The locks the repo sets for a holder, if a file manages it."""
        managed = self._managed(holder)
        return managed.locks if managed else None

    def applies_in_this_run(self, holder: Holder) -> bool:
        """Whether this run also plans the holder: only then do its repo values count above.

        A run scoped to a few users (`--target`, `--changed-since`) leaves a lock or a value
        that the repo changes on a group untouched, so the users' changes meet Zoom's as it is.
        """
        if holder.kind == "account":
            return self.scope.account
        return self.scope.wants_group(holder.name)

    def _holder_desired(self, holder: Holder) -> Settings | None:
        managed = self._managed(holder) if self.applies_in_this_run(holder) else None
        return managed.settings if managed else None

    # -- one target -------------------------------------------------------------------------

    async def plan_target(self, target: PlanTarget) -> TargetResult:
        result = TargetResult(target.ref)
        for family in target.desired.families:
            try:
                await self._plan_family(target, family, result)
            except DailyLimitReached:
                raise
            except ZoomAPIError as error:
                result.unknown.append(Unknown(target.ref, family_option(family), str(error)))
        return result

    async def _plan_family(self, target: PlanTarget, family: Family, result: TargetResult) -> None:
        wanted = target.desired.flat(family)
        free: dict[tuple[str, ...], Any] = {}
        held_live: dict[tuple[str, ...], _LockedAboveLive] = {}
        blocked: list[Change] = []
        for path, value in wanted.items():
            locked = await self.locked_change(target, family, path, value)
            if locked is None:
                free[path] = value
            elif isinstance(locked, _LockedAboveLive):
                held_live[path] = locked
            elif isinstance(locked, Change):
                blocked.append(locked)
        result.changes += blocked
        if not free and not held_live:
            # Nothing left that a write could change: the read is not needed.
            result.reads_skipped += not blocked
            return
        live = await get_settings(self.zoom, target.level, target.target_id, family)
        shaped = repo_shape(family, live)
        for path, lock in held_live.items():
            if not strictly_equal(lookup(shaped, path), wanted[path]):
                leaf = LeafChange(path, lookup(shaped, path), wanted[path])
                result.changes.append(self._change(target, family, leaf, "blocked", lock.reason))
        changes = diff_managed(nest(free), shaped)
        self._record(target, family, changes, option_ids(live), result)

    async def locked_change(
        self, target: PlanTarget, family: Family, path: tuple[str, ...], value: Any
    ) -> Change | object | None:
        """None if no level above locks the leaf; else satisfied, or a blocked Change.

        A holder this run leaves alone is judged by the target's own live value, which Zoom
        already gives as the locked one: no read of the holder's settings is needed.
        """
        for view in target.views:
            locked, source = view.lock_on(family, path)
            if not locked:
                continue
            if not self.applies_in_this_run(view.holder):
                return _LockedAboveLive(view.holder.describe(source))
            held = await self.holder_value(view, family, path)
            if strictly_equal(held, value):
                return SATISFIED
            return self._change(
                target,
                family,
                LeafChange(path, held, value),
                "blocked",
                view.holder.describe(source),
            )
        return None

    def _change(
        self, target: PlanTarget, family: Family, leaf: LeafChange, status: str, reason: str | None
    ) -> Change:
        return Change(
            target=target.ref,
            option=family_option(family),
            path=leaf.path,
            before=leaf.before,
            after=leaf.after,
            source=str(target.desired.source(family, leaf.path)),
            status=status,  # type: ignore[arg-type]
            reason=reason,
        )

    def _record(
        self,
        target: PlanTarget,
        family: Family,
        changes: list[LeafChange],
        ids: dict[str, str],
        result: TargetResult,
    ) -> None:
        refused = unsendable(target.level, family, changes, ids)
        for change in changes:
            reason = refused.get(change.path)
            status = "blocked" if reason else "pending"
            result.changes.append(self._change(target, family, change, status, reason))
        sendable = [change for change in changes if change.path not in refused]
        bodies = patch_bodies(target.level, family, sendable, ids)
        option = family_option(family)
        query = {"option": option} if option else {}
        path = settings_path(target.level, target.target_id)
        result.requests += [
            Request(target.ref, option, "PATCH", path, query, body.body, body.fields)
            for body in bodies
        ]

    # -- lock settings as targets ------------------------------------------------------------

    async def plan_locks(self, holder: Holder, locks: Settings) -> TargetResult:
        ref = _holder_ref(holder)
        result = TargetResult(ref)
        for family in locks.families:
            lock_family = as_lock_family(family)
            try:
                live = await self._lock_docs.get((holder.kind, holder.id, lock_family))
            except ZoomAPIError as error:
                result.unknown.append(Unknown(ref, _lock_option(lock_family), str(error)))
                continue
            changes = diff_managed(locks.values[family], live)
            self._record_locks(holder, lock_family, locks, changes, result)
        return result

    def _record_locks(
        self,
        holder: Holder,
        lock_family: LockFamily,
        locks: Settings,
        changes: list[LeafChange],
        result: TargetResult,
    ) -> None:
        if not changes:
            return
        option = _lock_option(lock_family)
        for leaf in changes:
            result.changes.append(
                Change(
                    result.ref,
                    option,
                    leaf.path,
                    leaf.before,
                    leaf.after,
                    str(locks.source(lock_family, leaf.path)),
                    locks=True,
                )
            )
        body = lock_zoom_shape(lock_family, nest({c.path: c.after for c in changes}))
        query = {"option": option} if option else {}
        path = lock_settings_path(holder.kind, holder.id)  # type: ignore[arg-type]
        fields = tuple(c.path for c in changes)
        result.requests.append(Request(result.ref, option, "PATCH", path, query, body, fields))

    # -- the whole run -------------------------------------------------------------------------

    def named_targets_left_out(self) -> int:
        """Targets that a file names and this run did not plan."""
        state, scope = self.state, self.scope
        left_out = int(state.account is not None and not scope.account)
        left_out += sum(not scope.wants_group(name) for name in state.groups)
        return left_out + sum(email not in self.planned_emails for email in state.users)

    def account_holder(self) -> Holder:
        file = self.state.account.file if self.state.account else None
        return Holder("account", "account", "me", file)

    def group_holder(self, group: Group) -> Holder | None:
        found = self.directory.group_of(group)
        return Holder("group", group.name, found["id"], group.file) if found else None

    async def user_target(self, user: UserSummary, desired: Settings | None = None) -> PlanTarget:
        """A user as a target: effective desired settings, and the levels whose locks apply."""
        ref = TargetRef("user", user["id"], email=user["email"].lower())
        views: list[LockView | None] = [await self.account_view()]
        group_ids = user.get("group_ids") or []
        if group_ids:  # Zoom applies the primary (first) group's settings and locks
            views.append(await self._views.get(group_ids[0]))
        found = tuple(view for view in views if view is not None)
        wanted = self.desired_for(user) if desired is None else desired
        return PlanTarget("user", user["id"], ref, wanted, found)

    async def account_view(self) -> LockView:
        view = await self._views.get("account")
        assert view is not None  # the account always has a view
        return view

    async def _fetch_view(self, key: str) -> LockView | None:
        if key == "account":
            account = self.state.account
            return await self.lock_view(self.account_holder(), account.locks if account else None)
        return await _group_view(self, key)

    def desired_for(self, user: UserSummary) -> Settings:
        email = user["email"].lower()
        names = tuple(self.directory.group_names(user))
        if email in self.state.users:
            return effective_user_settings(self.state, email, names)
        if names not in self._desired_cache:
            self._desired_cache[names] = effective_user_settings(self.state, email, names)
        return self._desired_cache[names]


SATISFIED = object()


def _lock_option(lock_family: LockFamily) -> str | None:
    return None if lock_family == "general" else lock_family


def _holder_ref(holder: Holder) -> TargetRef:
    if holder.kind == "account":
        return TargetRef("account", "me")
    return TargetRef("group", holder.id, name=holder.name)


async def build_plan(
    state: DesiredState,
    zoom: ZoomClient,
    scope: Scope,
    *,
    workers: int,
    progress: ProgressHook | None = None,
) -> Plan:
    planner = Planner(state, zoom, scope, workers=workers, progress=progress)
    users = await planner.resolve()
    results = await _plan_account_and_groups(planner)
    results += [result async for result in _plan_users(planner, users)]
    return _assemble(results, planner)


async def _plan_account_and_groups(planner: Planner) -> list[TargetResult]:
    """The account, then every group at once: each is a handful of reads, so overlap them."""
    state = planner.state
    results: list[TargetResult] = []
    if state.account and planner.scope.account:
        target = PlanTarget("account", "me", TargetRef("account", "me"), state.account.settings, ())
        results += await asyncio.gather(
            planner.plan_locks(planner.account_holder(), state.account.locks),
            planner.plan_target(target),
        )
    account_view = await planner.account_view()
    per_group = await asyncio.gather(
        *(_plan_group(planner, name, group, account_view) for name, group in state.groups.items())
    )
    return results + [result for found in per_group for result in found]


async def _plan_group(
    planner: Planner, name: str, group: Group, account_view: LockView
) -> list[TargetResult]:
    holder = planner.group_holder(group)
    if holder is None or not planner.scope.wants_group(name):
        return []
    target = PlanTarget("group", holder.id, _holder_ref(holder), group.settings, (account_view,))
    return list(
        await asyncio.gather(planner.plan_locks(holder, group.locks), planner.plan_target(target))
    )


async def _plan_users(planner: Planner, users: list[UserSummary]) -> AsyncIterator[TargetResult]:
    async def plan_one(user: UserSummary) -> TargetResult | None:
        desired = planner.desired_for(user)
        if not desired:
            return None  # nothing in the repo reaches this user: no read, no lock views
        return await planner.plan_target(await planner.user_target(user, desired))

    done = 0
    async for outcome in map_concurrently(plan_one, users, workers=planner.workers):
        done += 1
        planner.progress(done, len(users))
        if outcome.error is not None:
            if isinstance(outcome.error, DailyLimitReached):
                raise outcome.error
            ref = TargetRef("user", outcome.item["id"], email=outcome.item["email"].lower())
            yield TargetResult(ref, unknown=[Unknown(ref, None, str(outcome.error))])
        elif outcome.result is not None:
            yield outcome.result


async def _group_view(planner: Planner, group_id: str) -> LockView | None:
    summary = planner.directory.groups_by_id.get(group_id)
    if summary is None:
        return None
    group = planner.state.groups.get(summary["name"])
    holder = Holder("group", summary["name"], group_id, group.file if group else None)
    return await planner.lock_view(holder, group.locks if group else None)


def _assemble(results: list[TargetResult], planner: Planner) -> Plan:
    plan = Plan()
    results.sort(key=lambda r: r.ref.sort_key())
    for result in results:
        plan.changes += result.changes
        plan.requests += result.requests
        plan.unknown += result.unknown
    _summarise(plan, results, planner)
    return plan


def _summarise(plan: Plan, results: list[TargetResult], planner: Planner) -> None:
    summary = plan.summary
    by_target: dict[TargetRef, list[TargetResult]] = {}
    for result in results:
        by_target.setdefault(result.ref, []).append(result)
    for parts in by_target.values():
        unknown = any(part.unknown for part in parts)
        changed = any(part.changes for part in parts)
        summary.targets += 1
        summary.unknown_targets += unknown
        summary.targets_with_changes += changed and not unknown
        summary.targets_in_sync += not changed and not unknown
        summary.reads_skipped_locked += sum(part.reads_skipped for part in parts)
    summary.changes_pending = len(plan.pending)
    summary.changes_blocked = len(plan.blocked)
    summary.requests_sent = planner.zoom.counters.requests
    if planner.scope.since_revision:
        summary.targets_skipped_unchanged = planner.named_targets_left_out()
