"""Build a Plan: diff what the repo manages against the live reader, respect locks, make requests.

Reads go through the run's LiveReader (one ZoomClient, paced at the account's rate) with a fixed
pool of workers that stream over the users, so memory holds changes, not whole settings. The
reader reads lock documents and the values of the levels that hold locks once each.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from reconciler.desired.state import DesiredState, Group, Settings, dotted, nest
from reconciler.diagnostic import Diagnostic
from reconciler.diff import LeafChange, diff_managed, lookup, strictly_equal
from reconciler.errors import DailyLimitReached, ZoomAPIError
from reconciler.live import (
    ACCOUNT,
    Blocked,
    CoveringLock,
    HeldAsWanted,
    Holder,
    JudgedLive,
    LiveReader,
    LockView,
    LockViews,
    NotLocked,
    Unreadable,
)
from reconciler.live.directory import (
    INDIVIDUAL_LOOKUP_LIMIT,
    check_named_targets,
    check_selected_groups,
    check_selected_users,
)
from reconciler.live.locks import lock_test
from reconciler.plan.model import (
    Change,
    Finding,
    FindingState,
    Plan,
    Request,
    Status,
    Unknown,
    Writes,
)
from reconciler.plan.policies import judge_target, weakening_changes, with_changes
from reconciler.plan.repo_view import RepoView
from reconciler.policy import Engine, TargetContext
from reconciler.policy.judging import locked_flags
from reconciler.shapes import lock_zoom_shape, patch_bodies, unsendable
from reconciler.targets import Scope, TargetRef
from reconciler.vocab import (
    Family,
    LeafPath,
    Level,
    LockFamily,
    ProgressHook,
    email_key,
    family_option,
    lock_family_of,
    no_progress,
)
from reconciler.zoom.endpoints import UserSummary


@dataclass
class TargetResult:
    ref: TargetRef
    changes: list[Change] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    reads_skipped: int = 0
    # A level above changes a field this target manages: its value could move with it.
    below_a_change: bool = False
    pin_reasons: dict[tuple[Family, LeafPath], str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Inherited:
    """A planned change at a level above that targets below it inherit unless they hold the
    field themselves."""

    holder: str  # "the account", "group Sales"
    value: Any

    def pin_reason(self, path: LeafPath) -> str:
        return f"pinned: {self.holder} changes {dotted(path)} to {value_text(self.value)}"


# Families whose fields a lower level can hold by itself with a plain PATCH. The authentication
# families' options are chosen per level by actions, and their defaults move together.
PINNABLE: frozenset[Family] = frozenset({"general", "meeting_security"})


def value_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class PlanTarget:
    """One target to plan: its level, id, reference, desired settings and the locks above it."""

    level: Level
    target_id: str
    ref: TargetRef
    desired: Settings
    views: tuple[LockView, ...]
    # Ids of the levels whose settings this target inherits, nearest first: its primary group
    # and the account for a user, the account for a group.
    above: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # a user's group names, for policies
    # The account's or a group's own locks: they count in a rule's `locked` ("at this level or
    # above"), but never block the holder's own settings, so they are not among `views`.
    own: LockView | None = None


def _blocked(target: PlanTarget, family: Family, leaf: LeafChange, reason: str) -> Change:
    return _change(target, family, leaf, Status.BLOCKED, reason)


def _change(
    target: PlanTarget, family: Family, leaf: LeafChange, status: Status, reason: str | None
) -> Change:
    source = str(target.desired.source(family, leaf.path))
    return Change(target.ref, family, leaf.path, leaf.before, leaf.after, source, status, reason)


class Planner:
    def __init__(
        self,
        state: DesiredState,
        reader: LiveReader,
        scope: Scope,
        *,
        workers: int,
        progress: ProgressHook = no_progress,
        engine: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.state = state
        self.reader = reader
        self.scope = scope
        self.workers = workers
        self.progress = progress
        self.repo = RepoView(state, reader, scope)
        self.overlay = self.repo.overlay
        self.views: LockViews = self.repo.views
        self.planned_emails: set[str] = set()
        self.skipped: list[Diagnostic] = []  # user files left out, each with why
        # Pending settings changes of the account and groups, by holder id, then leaf.
        self._inherited: dict[str, dict[tuple[Family, LeafPath], Inherited]] = {}

    # -- resolve ---------------------------------------------------------------------------

    async def resolve(self) -> list[UserSummary]:
        """Load groups and the users this run covers; raise on files naming unknown targets."""
        reader = self.reader
        await reader.load_groups()
        named = [email for email in self.state.users if self.scope.wants_user(email)]
        selected = sorted(self.scope.users or ())  # users a selector names, files or not
        members = await self._profile_members()
        wanted = list(dict.fromkeys([*named, *selected, *members]))
        if self._needs_all_users() or len(wanted) > INDIVIDUAL_LOOKUP_LIMIT:
            await reader.list_active_users()
        await reader.look_up_users(wanted, workers=self.workers)
        self.skipped = check_named_targets(self.state, reader.directory, named)
        if not self.scope.since_revision:
            check_selected_users(reader.directory, selected)
            check_selected_groups(self.state, self.scope.groups or ())
        users = self._user_targets(wanted)
        self.planned_emails = {email_key(user["email"]) for user in users}
        return users

    async def _profile_members(self) -> list[str]:
        """Emails of the members of groups whose `members:` profile this run covers."""
        emails: list[str] = []
        for name in sorted(self.scope.member_groups):
            group = self.reader.directory.groups_by_name.get(name)
            if group is not None:
                emails += await self.reader.member_emails(group["id"])
        return emails

    def _needs_all_users(self) -> bool:
        """Defaults or member profiles reach users that no file names."""
        reaches_unnamed = bool(self.state.defaults) or bool(self.state.profiles())
        return reaches_unnamed and self.scope.users is None

    def _user_targets(self, wanted: list[str]) -> list[UserSummary]:
        directory = self.reader.directory
        if self.scope.users is not None or not directory.listed_all_users:
            return directory.active_users(wanted)
        return directory.active_users()

    # -- one target -------------------------------------------------------------------------

    async def plan_target(self, target: PlanTarget) -> TargetResult:
        # The families are read at once (the client's pacer keeps the rate), then merged in
        # their order, so a plan reads the same however the answers arrive.
        parts = await asyncio.gather(
            *(self._plan_one_family(target, family) for family in target.desired.families)
        )
        result = TargetResult(target.ref)
        documents: dict[Family, dict[str, Any]] = {}
        for part, document in parts:
            _merge(result, part)
            documents.update(document)
        if self.engine is not None and documents and not result.unknown:
            result.findings = self._judge(target, documents, result.changes)
        return result

    async def _plan_one_family(
        self, target: PlanTarget, family: Family
    ) -> tuple[TargetResult, dict[Family, dict[str, Any]]]:
        result = TargetResult(target.ref)
        documents: dict[Family, dict[str, Any]] = {}
        try:
            await self._plan_family(target, family, result, documents)
        except DailyLimitReached:
            raise
        except ZoomAPIError as error:
            result.unknown.append(Unknown(target.ref, family_option(family), str(error)))
        return result, documents

    def _judge(
        self, target: PlanTarget, documents: dict[Family, dict[str, Any]], changes: list[Change]
    ) -> list[Finding]:
        """The policy findings of one target read: Zoom now against Zoom after the plan."""
        assert self.engine is not None
        ref = target.ref
        views = target.views if target.own is None else (*target.views, target.own)
        context = TargetContext(
            target.level,
            target.target_id,
            ref.email or "",
            ref.name or "",
            target.groups,
            documents=documents,
            locked=locked_flags(documents, lock_test(views, live=True)),
        )
        after = with_changes(documents, changes)
        return judge_target(self.engine, context, after, ref, locked_flags(after, lock_test(views)))

    async def _plan_family(
        self,
        target: PlanTarget,
        family: Family,
        result: TargetResult,
        documents: dict[Family, dict[str, Any]],
    ) -> None:
        wanted = target.desired.flat(family)
        free: dict[LeafPath, Any] = {}
        judged_live: dict[LeafPath, CoveringLock] = {}
        blocked: list[Change] = []
        for path, value in wanted.items():
            match await self.views.verdict(target.views, family, path, value):
                case NotLocked():
                    free[path] = value
                case JudgedLive(lock):
                    judged_live[path] = lock
                case Blocked(lock, held):
                    blocked.append(
                        _blocked(target, family, LeafChange(path, held, value), lock.reason)
                    )
                case HeldAsWanted():
                    pass
        result.changes += blocked
        if not free and not judged_live:
            # Nothing left that a write could change: the read is not needed.
            result.reads_skipped += not blocked
            return
        live = await self.reader.read(target.level, target.target_id, family)
        if isinstance(live, Unreadable):
            result.unknown.append(Unknown(target.ref, family_option(family), live.cause))
            return
        documents[family] = live.values
        for path, lock in judged_live.items():
            if not strictly_equal(lookup(live.values, path), wanted[path]):
                leaf = LeafChange(path, lookup(live.values, path), wanted[path])
                result.changes.append(_blocked(target, family, leaf, lock.reason))
        changes = diff_managed(nest(free), live.values)
        pins = self._pins(target, family, free, {change.path for change in changes}, result)
        self._record(target, family, [*changes, *pins], live.option_ids, result)

    def _pins(
        self,
        target: PlanTarget,
        family: Family,
        free: dict[LeafPath, Any],
        changed: set[LeafPath],
        result: TargetResult,
    ) -> list[LeafChange]:
        """Fields in sync now that a change above would move: write them explicitly.

        Zoom's GET shows effective values, so whether the target holds a field itself or only
        inherits it cannot be seen; writing it is the only way to be sure it stays. `before` is
        the value the target would inherit, which is what apply finds once the level above is
        written.
        """
        pins: list[LeafChange] = []
        for path, value in free.items():
            above = None if path in changed else self._inherited_change(target, family, path)
            if above is None:
                continue
            result.below_a_change = True
            if family in PINNABLE and not strictly_equal(above.value, value):
                pins.append(LeafChange(path, above.value, value))
                result.pin_reasons[(family, path)] = above.pin_reason(path)
        return pins

    def _inherited_change(
        self, target: PlanTarget, family: Family, path: LeafPath
    ) -> Inherited | None:
        for holder_id in target.above:
            found = self._inherited.get(holder_id, {}).get((family, path))
            if found is not None:
                return found
        return None

    def inherit(self, holder: Holder, results: list[TargetResult]) -> None:
        """Remember the holder's pending settings changes for the targets below it."""
        found = {
            (change.family, change.path): Inherited(holder.who, change.after)
            for result in results
            for change in result.changes
            if change.status is Status.PENDING and not change.locks
        }
        if found:
            self._inherited[holder.id] = found

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
            status = Status.BLOCKED if reason else Status.PENDING
            reason = reason or result.pin_reasons.get((family, change.path))
            result.changes.append(_change(target, family, change, status, reason))
        sendable = [change for change in changes if change.path not in refused]
        result.requests += [
            Request(target.ref, family, Writes.SETTINGS, body.body, body.fields)
            for body in patch_bodies(target.level, family, sendable, ids)
        ]

    # -- lock settings as targets ------------------------------------------------------------

    async def plan_locks(self, holder: Holder, locks: Settings) -> TargetResult:
        ref = _holder_ref(holder)
        result = TargetResult(ref)
        for family in locks.families:
            lock_family = lock_family_of(family)
            try:
                live = await self.reader.lock_doc(holder, lock_family)
            except ZoomAPIError as error:
                result.unknown.append(Unknown(ref, family_option(lock_family), str(error)))
                continue
            changes = diff_managed(locks.values[family], live)
            _record_locks(lock_family, locks, changes, result)
        return result

    # -- the whole run -------------------------------------------------------------------------

    def named_targets_left_out(self) -> int:
        """Targets that a file names and this run did not plan."""
        state, scope = self.state, self.scope
        left_out = int(state.account is not None and not scope.account)
        left_out += sum(not scope.wants_group(name) for name in state.groups)
        return left_out + sum(email not in self.planned_emails for email in state.users)

    def group_holder(self, group: Group) -> Holder | None:
        found = self.reader.directory.group_of(group)
        return Holder("group", group.name, found["id"]) if found else None

    async def user_target(self, user: UserSummary, desired: Settings | None = None) -> PlanTarget:
        """A user as a target: effective desired settings, and the levels whose locks apply."""
        ref = TargetRef("user", user["id"], email=email_key(user["email"]))
        views = await self.views.above(user)
        wanted = self.desired_for(user) if desired is None else desired
        primary = self.reader.directory.primary_group(user)
        above = (ACCOUNT.id,) if primary is None else (primary, ACCOUNT.id)
        groups = tuple(self.reader.directory.group_names(user))
        return PlanTarget("user", user["id"], ref, wanted, views, above, groups)

    def desired_for(self, user: UserSummary) -> Settings:
        return self.repo.desired_for(user)


def _merge(into: TargetResult, part: TargetResult) -> None:
    """One family's part of a target's result added to the rest."""
    into.changes += part.changes
    into.requests += part.requests
    into.unknown += part.unknown
    into.reads_skipped += part.reads_skipped
    into.below_a_change = into.below_a_change or part.below_a_change
    into.pin_reasons.update(part.pin_reasons)
    into.findings += part.findings


def _record_locks(
    lock_family: LockFamily, locks: Settings, changes: list[LeafChange], result: TargetResult
) -> None:
    if not changes:
        return
    for leaf in changes:
        source = str(locks.source(lock_family, leaf.path))
        result.changes.append(
            Change(
                result.ref,
                lock_family,
                leaf.path,
                leaf.before,
                leaf.after,
                source,
                writes=Writes.LOCKS,
            )
        )
    body = lock_zoom_shape(lock_family, nest({c.path: c.after for c in changes}))
    fields = tuple(c.path for c in changes)
    result.requests.append(Request(result.ref, lock_family, Writes.LOCKS, body, fields))


def _holder_ref(holder: Holder) -> TargetRef:
    if holder.kind == "account":
        return TargetRef("account", holder.id)
    return TargetRef("group", holder.id, name=holder.name)


async def build_plan(
    state: DesiredState,
    reader: LiveReader,
    scope: Scope,
    *,
    workers: int,
    progress: ProgressHook = no_progress,
    engine: Engine | None = None,
) -> Plan:
    requests_before = reader.zoom.counters.requests
    planner = Planner(state, reader, scope, workers=workers, progress=progress, engine=engine)
    users = await planner.resolve()
    results = await _plan_account_and_groups(planner)
    results += [result async for result in _plan_users(planner, users)]
    plan = _assemble(results, planner)
    plan.summary.requests_sent = reader.zoom.counters.requests - requests_before
    return plan


async def _plan_account_and_groups(planner: Planner) -> list[TargetResult]:
    """The account, then every group at once (each is a handful of reads, so overlap them).

    The account goes first: its changes reach the groups and users below, which may have to
    hold their own values explicitly from then on (pins).
    """
    state = planner.state
    results: list[TargetResult] = []
    if state.account and planner.scope.account:
        ref = _holder_ref(ACCOUNT)
        # Its own locks matter to the rules only (they read both lock documents).
        own = await planner.views.account() if planner.engine else None
        target = PlanTarget("account", ACCOUNT.id, ref, state.account.settings, (), own=own)
        results += await asyncio.gather(
            planner.plan_locks(ACCOUNT, state.account.locks),
            planner.plan_target(target),
        )
        planner.inherit(ACCOUNT, results)
    account_view = await planner.views.account()
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
    target = PlanTarget(
        "group",
        holder.id,
        _holder_ref(holder),
        group.settings,
        (account_view,),
        (ACCOUNT.id,),
        own=await planner.views.group(holder.id) if planner.engine else None,
    )
    results = list(
        await asyncio.gather(planner.plan_locks(holder, group.locks), planner.plan_target(target))
    )
    planner.inherit(holder, results)
    return results


async def _plan_users(planner: Planner, users: list[UserSummary]) -> AsyncIterator[TargetResult]:
    async def plan_one(user: UserSummary) -> TargetResult | None:
        desired = planner.desired_for(user)
        if not desired:
            return None  # nothing in the repo reaches this user: no read, no lock views
        return await planner.plan_target(await planner.user_target(user, desired))

    walk = planner.reader.each_user(
        users, plan_one, workers=planner.workers, progress=planner.progress
    )
    async for outcome in walk:
        if outcome.error is not None:  # UNKNOWN: never read (or not wholly), never written
            user = outcome.user
            ref = TargetRef("user", user["id"], email=email_key(user["email"]))
            yield TargetResult(ref, unknown=[Unknown(ref, None, str(outcome.error))])
        elif outcome.result is not None:
            yield outcome.result


def _assemble(results: list[TargetResult], planner: Planner) -> Plan:
    plan = Plan()
    results.sort(key=lambda r: r.ref.sort_key())
    for result in results:
        plan.changes += result.changes
        plan.requests += result.requests
        plan.unknown += result.unknown
    plan.skipped = planner.skipped
    found = [finding for result in results for finding in result.findings]
    plan.findings = [f for f in found if f.state is not FindingState.LEFT]
    plan.findings_left = dict(
        sorted(Counter(f.rule for f in found if f.state is FindingState.LEFT).items())
    )
    if planner.engine is not None:
        plan.weakening = weakening_changes(plan, planner.engine)
    below = {result.ref for result in results if result.below_a_change}
    plan.below_changes = sorted(below, key=TargetRef.sort_key)
    _summarise(plan, results, planner)
    return plan


def _summarise(plan: Plan, results: list[TargetResult], planner: Planner) -> None:
    """What only the run knows (targets planned, reads skipped); the rest the plan counts."""
    summary = plan.summary
    summary.targets = len({result.ref for result in results})
    summary.reads_skipped_locked = sum(result.reads_skipped for result in results)
    if planner.scope.since_revision:
        summary.targets_skipped_unchanged = planner.named_targets_left_out()
    plan.summary = plan.counted_summary()
