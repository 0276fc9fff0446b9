"""The audit: every target Zoom has (the account, every group, every active user), read through
the live reader at the account's rate, judged for drift against the repo and by the enabled
rules, and written to a snapshot as it goes.

A sibling of the planner on the same reader. It reads every family that the repo manages
anywhere or that a rule reads, for every target (not only those the repo names: an audit is
about the account as it is). Lock views are Zoom's own (`LIVE_ONLY`): an audit reports what is,
not what a run would make. A target whose read fails is unknown: it counts as unknown for every
rule of its level and is never judged for drift, so it can be neither compliant nor drifted.

Memory stays flat in the number of users: a user's documents are judged, written to the
snapshot and dropped; what stays is a byte per rule per target and the findings.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from reconciler.audit.inference import Inference
from reconciler.audit.model import (
    Acknowledgement,
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    FindingStore,
    RuleOutcome,
    Where,
    field_label,
)
from reconciler.audit.snapshot import SnapshotTarget, SnapshotWriter
from reconciler.desired.acknowledged import AckEntry
from reconciler.desired.layering import DesiredForUsers
from reconciler.desired.models import KEY_OF_FAMILY
from reconciler.desired.state import DesiredState, Settings, dotted
from reconciler.diagnostic import Diagnostic
from reconciler.diff import MISSING, diff_managed, lookup
from reconciler.errors import DailyLimitReached, ZoomAPIError
from reconciler.live.directory import check_named_targets
from reconciler.live.locks import ACCOUNT, Holder, LockView, covering_lock, lock_test
from reconciler.live.reader import LIVE_ONLY, LiveReader, LockViews, Unreadable
from reconciler.policy import Engine, Outcome, Rule, TargetContext
from reconciler.policy.judging import locked_flags, setting_source
from reconciler.targets import TargetRef, UserSelector
from reconciler.vocab import (
    FAMILIES,
    LOCK_FAMILIES,
    Family,
    LeafPath,
    LockFamily,
    ProgressHook,
    email_key,
    no_progress,
)
from reconciler.zoom.endpoints import UserSummary

_OUTCOME_BYTE = {
    Outcome.PASS: RuleOutcome.PASS,
    Outcome.FAIL: RuleOutcome.FAIL,
    Outcome.NOT_APPLICABLE: RuleOutcome.NOT_APPLICABLE,
    Outcome.UNKNOWN: RuleOutcome.UNKNOWN,
}


@dataclass(frozen=True)
class AuditSettings:
    today: date
    users: UserSelector | None = None
    shipped_packs: frozenset[str] = frozenset()  # pack names loaded from the tool's folder
    read_all: bool = False  # read every family of every user, none inferred from locks


@dataclass
class _Judged:
    """What one target contributes to the result."""

    index: int
    target: AuditTarget
    findings: list[AuditFinding] = field(default_factory=list)
    # Failed rules, compact: (rule index, where, live value, acknowledgement index or None)
    failed: list[tuple[int, Where, Any, int | None]] = field(default_factory=list)
    drifted: int | None = None  # None: drift not judged (nothing managed, or unknown)


def needed_families(state: DesiredState, engine: Engine | None) -> tuple[Family, ...]:
    """Every family the repo manages anywhere or a rule reads, in Zoom's order."""
    wanted: set[Family] = set()
    layers: list[Settings] = [state.defaults]
    if state.account:
        layers += [state.account.settings]
        wanted |= set(state.account.locks.families)  # a lock family is a settings family
    for group in state.groups.values():
        layers += [group.settings]
        wanted |= set(group.locks.families)
        if group.members:
            layers.append(group.members.settings)
    layers += [user.settings for user in state.users.values()]
    for layer in layers:
        wanted |= set(layer.families)
    if engine is not None:
        for rule in engine.rules:
            wanted |= {family for family, _ in rule.reads.fields | rule.reads.locks}
    return tuple(family for family in FAMILIES if family in wanted) or ("general",)


class Auditor:
    def __init__(
        self,
        state: DesiredState,
        reader: LiveReader,
        engine: Engine | None,
        settings: AuditSettings,
        *,
        workers: int,
        snapshot: SnapshotWriter | None = None,
        progress: ProgressHook = no_progress,
    ) -> None:
        self.state = state
        self.reader = reader
        self.engine = engine
        self.settings = settings
        self.workers = workers
        self.snapshot = snapshot
        self.progress = progress
        self.views: LockViews = reader.lock_views(LIVE_ONLY)
        self.families = needed_families(state, engine)
        self.inference = Inference(state, engine, self.families, on=not settings.read_all)
        self.rules: tuple[Rule, ...] = engine.rules if engine else ()
        self.acks = [
            (index, entry)
            for index, entry in enumerate(state.acknowledged)
            if not entry.expired(settings.today)
        ]
        self.acknowledgements = [_ack(entry, settings.today) for entry in state.acknowledged]
        self.rule_index = {rule.key: index for index, rule in enumerate(self.rules)}
        self.rows: list[bytearray] = []
        self._desired = DesiredForUsers(state)
        self.warnings: list[Diagnostic] = []

    # -- the whole run ----------------------------------------------------------------------------

    async def run(self) -> AuditResult:
        reader = self.reader
        await reader.load_groups()
        await reader.list_active_users()
        await reader.look_up_users(list(self.state.users), workers=self.workers)
        self.warnings = check_named_targets(self.state, reader.directory, list(self.state.users))
        groups = sorted(reader.directory.groups_by_id.values(), key=lambda g: g["name"].lower())
        users = self._users()
        targets = [
            AuditTarget(TargetRef("account", ACCOUNT.id), managed=self.state.account is not None)
        ]
        targets += [
            AuditTarget(
                TargetRef("group", g["id"], name=g["name"]), managed=g["name"] in self.state.groups
            )
            for g in groups
        ]
        total = len(targets) + len(users)
        result = AuditResult(rules=list(self.rules), read_all=self.settings.read_all)
        result.acknowledgements = self.acknowledgements
        self.rows = [bytearray(total) for _ in self.rules]
        result.outcomes = dict(zip((r.code for r in self.rules), self.rows, strict=True))
        store = FindingStore(result.targets, self.rules, result.acknowledgements, _rule_field)
        result.findings = store
        sink = _InOrder(result, store)
        account_view = await self.views.account()
        sink.put(await self._judge_holder(0, targets[0], ACCOUNT, (account_view,)))
        for judged in await asyncio.gather(
            *(
                self._judge_group(index, target, account_view)
                for index, target in enumerate(targets[1:], start=1)
            )
        ):
            sink.put(judged)
        first = len(targets)  # the users' rows follow the account's and the groups'
        # Each user's row, by the record itself: two records may share an email or an id.
        rows = {id(user): first + place for place, user in enumerate(users)}

        async def judge_user(user: UserSummary) -> _Judged:
            return await self._judge_user(rows[id(user)], user)

        walk = self.reader.each_user(
            users, judge_user, workers=self.workers, progress=self.progress
        )
        async for outcome in walk:
            if outcome.error is not None:
                user = outcome.user
                target = AuditTarget(
                    _user_ref(user), self._group_names(user), unknown=str(outcome.error)
                )
                sink.put(self._unknown(first + outcome.index, target))
            else:
                assert outcome.result is not None
                sink.put(outcome.result)
        assert sink.next == total, "every target is judged once"
        result.reads_inferred = self.inference.reads_skipped
        return result

    def _users(self) -> list[UserSummary]:
        active = self.reader.directory.active_users()
        selector = self.settings.users
        if selector is not None:
            active = [u for u in active if selector.wants(u["email"], self._group_names(u))]
        return sorted(active, key=lambda u: email_key(u["email"]))

    # -- one target -------------------------------------------------------------------------------

    async def _judge_group(
        self, index: int, target: AuditTarget, account_view: LockView
    ) -> _Judged:
        assert target.ref.name is not None
        holder = Holder("group", target.ref.name, target.ref.id)
        group_view = await self.views.group(holder.id)
        views = (account_view,) if group_view is None else (account_view, group_view)
        return await self._judge_holder(index, target, holder, views)

    async def _judge_holder(
        self, index: int, target: AuditTarget, holder: Holder, views: tuple[LockView, ...]
    ) -> _Judged:
        """The account or a group: settings, its own lock settings, and the rules."""
        desired = self._holder_desired(holder)
        locks: dict[LockFamily, dict[str, Any]] = {}
        cause = None
        for lock_family in LOCK_FAMILIES:
            try:
                locks[lock_family] = await self.reader.lock_doc(holder, lock_family)
            except DailyLimitReached:
                raise
            except ZoomAPIError as error:
                cause = cause or f"{lock_family} lock settings: {error}"
        above = views[:-1]  # the holder's own view is last: it explains nothing of its own
        judged = await self._judge(index, target, desired[0], above, views, cause, locks)
        if judged.target.unknown is None and desired[1] is not None:
            drifted = _lock_drift(judged.target, desired[1], locks)
            judged.findings += [self._acknowledged(f) for f in drifted]
            judged.drifted = (judged.drifted or 0) + len(drifted)
        return judged

    def _holder_desired(self, holder: Holder) -> tuple[Settings | None, Settings | None]:
        if holder.kind == "account":
            account = self.state.account
            return (account.settings, account.locks) if account else (None, None)
        group = self.state.groups.get(holder.name)
        return (group.settings, group.locks) if group else (None, None)

    async def _judge_user(self, index: int, user: UserSummary) -> _Judged:
        """A user (never one whose email Zoom gives two identities: `each_user` keeps those out,
        UNKNOWN)."""
        groups = self._group_names(user)
        desired = self._desired.desired_for(email_key(user["email"]), groups)
        views = await self.views.above(user)
        given, inferred = self.inference.user_documents(
            desired, views, len(user.get("group_ids") or [])
        )
        target = AuditTarget(_user_ref(user), groups, managed=bool(desired), inferred=inferred)
        return await self._judge(index, target, desired, views, views, None, {}, given)

    def _group_names(self, user: UserSummary) -> tuple[str, ...]:
        return tuple(self.reader.directory.group_names(user))

    async def _judge(
        self,
        index: int,
        target: AuditTarget,
        desired: Settings | None,
        above: tuple[LockView, ...],
        policy_views: tuple[LockView, ...],
        cause: str | None,
        locks: dict[LockFamily, dict[str, Any]],
        inferred: dict[Family, dict[str, Any]] | None = None,
    ) -> _Judged:
        """`inferred`: the families not to read, with the documents the locks above give."""
        read: dict[Family, dict[str, Any]] = {}
        families = [f for f in self.families if f not in (inferred or {})]
        reads = (self.reader.read(target.ref.kind, target.ref.id, f) for f in families)
        # Read at once under the client's pacer, looked at in the families' order.
        found = await asyncio.gather(*reads)
        for family, live in zip(families, found, strict=True):
            if isinstance(live, Unreadable):
                cause = cause or f"{KEY_OF_FAMILY[family]}: {live.cause}"
                continue
            read[family] = live.values
        if cause is not None:
            target = replace(target, unknown=cause)
        self._write_snapshot(target, read, locks)  # what was read: inferred values are not
        if cause is not None:
            return self._unknown(index, target)
        if target.ref.kind != "user":
            self.inference.keep_holder(target.ref.id, read)
        documents = _in_order(self.families, read, inferred or {})
        judged = _Judged(index, target)
        if desired:
            drift = [self._acknowledged(f) for f in _drift(target, desired, documents, above)]
            judged.findings += drift
            judged.drifted = len(drift)
        if self.engine is not None:
            self._judge_rules(judged, desired, documents, policy_views)
        return judged

    def _judge_rules(
        self,
        judged: _Judged,
        desired: Settings | None,
        documents: dict[Family, dict[str, Any]],
        views: tuple[LockView, ...],
    ) -> None:
        assert self.engine is not None
        target = judged.target
        ref = target.ref
        context = TargetContext(
            ref.kind,
            ref.id,
            ref.email or "",
            ref.name or "",
            target.groups,
            documents=documents,
            locked=locked_flags(documents, lock_test(views)),
        )
        index = judged.index
        for found in self.engine.evaluate(context):
            outcome = _OUTCOME_BYTE[found.outcome]
            rule_index = self.rule_index[found.rule.key]
            if found.outcome is Outcome.UNKNOWN:
                finding = self._unjudged(target, found.rule, found.error, desired, documents)
                judged.findings.append(self._acknowledged(finding))
            elif found.outcome is Outcome.FAIL:
                key, path, _expected = _rule_field(found.rule)
                ack = self._ack_index(target, found.rule.code, field_label(key, path))
                family, leaf = _first_field(found.rule)
                actual = lookup(documents.get(family, {}), leaf) if leaf else MISSING
                where = self._where(found.rule, desired)
                judged.failed.append((rule_index, where, actual, ack))
                if ack is not None:
                    outcome = RuleOutcome.ACKNOWLEDGED
            self.rows[rule_index][index] = outcome

    def _unjudged(
        self,
        target: AuditTarget,
        rule: Rule,
        error: str | None,
        desired: Settings | None,
        documents: dict[Family, dict[str, Any]],
    ) -> AuditFinding:
        """A rule that could not be judged (failed rules are kept as columns instead)."""
        family, leaf = _first_field(rule)
        key, path, expected = _rule_field(rule)
        return AuditFinding(
            FindingKind.POLICY,
            FindingStatus.UNKNOWN,
            target,
            key,
            path,
            f"{rule.id} could not be judged: {error}",
            self._where(rule, desired),
            actual=lookup(documents.get(family, {}), leaf) if leaf else MISSING,
            expected=expected,
            rule=rule,
        )

    def _where(self, rule: Rule, desired: Settings | None) -> Where:
        """The repo line that sets the first field the rule reads, else the rule's own line."""
        source = setting_source(rule, desired) if desired is not None else None
        if source is not None:
            return Where(source.file, source.line, source.col)
        shipped = rule.pack in self.settings.shipped_packs
        return Where(rule.file, rule.line, 1, in_repo=not shipped, sets_value=False)

    def _acknowledged(self, finding: AuditFinding) -> AuditFinding:
        found = self._ack_index(finding.target, finding.rule_code, finding.field_label)
        if found is None:
            return finding
        ack = self.acknowledgements[found]
        return replace(finding, status=FindingStatus.ACKNOWLEDGED, acknowledged=ack)

    def _ack_index(self, target: AuditTarget, rule_code: str | None, label: str) -> int | None:
        """The index in acknowledged.yaml of the first unexpired entry that accepts it."""
        ref = target.ref
        for index, entry in self.acks:
            if not entry.covers_target(ref.kind, ref.email or "", ref.name or "", target.groups):
                continue
            if entry.rule is not None and entry.rule == rule_code:
                return index
            if entry.field is not None and entry.covers_field(label):
                return index
        return None

    def _unknown(self, index: int, target: AuditTarget) -> _Judged:
        judged = _Judged(index, target)
        for rule_index, rule in enumerate(self.rules):
            if target.ref.kind in rule.levels:
                self.rows[rule_index][index] = RuleOutcome.UNKNOWN
        judged.findings.append(
            AuditFinding(
                FindingKind.READ,
                FindingStatus.UNKNOWN,
                target,
                None,
                None,
                f"could not be read, so it is neither compliant nor drifted: {target.unknown}",
            )
        )
        return judged

    def _write_snapshot(
        self,
        target: AuditTarget,
        documents: dict[Family, dict[str, Any]],
        locks: dict[LockFamily, dict[str, Any]],
    ) -> None:
        if self.snapshot is None:
            return
        ref = target.ref
        self.snapshot.add(
            SnapshotTarget(
                key=snapshot_key(ref),
                label=ref.label,
                level=ref.kind,
                id=ref.id,
                email=ref.email,
                name=ref.name,
                groups=target.groups,
                settings={KEY_OF_FAMILY[family]: doc for family, doc in documents.items()},
                locks={KEY_OF_FAMILY[f]: doc for f, doc in locks.items()},
                unknown=target.unknown,
            )
        )


class _InOrder:
    """Targets finish out of order (several in flight); the result takes them in order, so a
    few wait here, never all of them."""

    def __init__(self, result: AuditResult, store: FindingStore) -> None:
        self.result = result
        self.store = store
        self.next = 0
        self.waiting: dict[int, _Judged] = {}

    def put(self, judged: _Judged) -> None:
        self.waiting[judged.index] = judged
        while self.next in self.waiting:
            self._take(self.waiting.pop(self.next))
            self.next += 1

    def _take(self, judged: _Judged) -> None:
        self.result.targets.append(judged.target)
        index = judged.index
        for finding in judged.findings:
            self.store.add(finding)
        for rule_index, where, actual, ack in judged.failed:
            self.store.add_rule_failure(index, rule_index, where, actual, ack)
        if judged.drifted is not None:
            self.result.drift_judged[index] = judged.drifted


def _in_order(
    families: tuple[Family, ...],
    read: dict[Family, dict[str, Any]],
    inferred: dict[Family, dict[str, Any]],
) -> dict[Family, dict[str, Any]]:
    """The documents read and inferred, in the families' order."""
    return {
        f: inferred[f] if f in inferred else read[f] for f in families if f in inferred or f in read
    }


def _rule_field(rule: Rule) -> tuple[str, str, Any]:
    """The field a rule's findings name: the repo's family key, the dotted path, and the value
    its remedy sets there (MISSING when it has none)."""
    family, path = _first_field(rule)
    key = KEY_OF_FAMILY[family]
    expected = lookup(rule.remedy.get(key, {}), path) if rule.remedy and path else MISSING
    return key, dotted(path), expected


def snapshot_key(ref: TargetRef) -> str:
    return "account" if ref.kind == "account" else f"{ref.kind}:{ref.id}"



def _user_ref(user: UserSummary) -> TargetRef:
    return TargetRef("user", user["id"], email=email_key(user["email"]))


def _first_field(rule: Rule) -> tuple[Family, LeafPath]:
    """The field a rule's finding is about: the first it requires, else the first it reads."""
    for fields in (rule.reads.required, rule.reads.fields, rule.reads.locks):
        if fields:
            return min(fields)
    return "general", ()


def _drift(
    target: AuditTarget,
    desired: Settings,
    documents: dict[Family, dict[str, Any]],
    above: tuple[LockView, ...],
) -> list[AuditFinding]:
    found: list[AuditFinding] = []
    for family in desired.families:
        if family not in documents:
            continue
        for change in diff_managed(desired.values[family], documents[family]):
            lock = covering_lock(above, family, change.path)
            source = desired.source(family, change.path)
            found.append(
                _drift_finding(
                    target, KEY_OF_FAMILY[family], change.path, change.before, change.after,
                    Where(source.file, source.line, source.col),
                    lock.view.holder.who if lock else None, locks=False,
                )
            )  # fmt: skip
    return found


def _lock_drift(
    target: AuditTarget, desired_locks: Settings, live: dict[LockFamily, dict[str, Any]]
) -> list[AuditFinding]:
    found: list[AuditFinding] = []
    for lock_family in desired_locks.families:
        if lock_family not in live:
            continue
        key = KEY_OF_FAMILY[lock_family]
        for change in diff_managed(desired_locks.values[lock_family], live[lock_family]):
            source = desired_locks.source(lock_family, change.path)
            where = Where(source.file, source.line, source.col)
            found.append(
                _drift_finding(
                    target, key, change.path, change.before, change.after, where, None, locks=True
                )
            )
    return found


def _drift_finding(
    target: AuditTarget,
    key: str,
    path: LeafPath,
    actual: Any,
    expected: Any,
    where: Where,
    locked_by: str | None,
    *,
    locks: bool,
) -> AuditFinding:
    shown = "nothing" if actual is MISSING else _json(actual)
    message = f"Zoom has {shown}, {where} asks for {_json(expected)}"
    if locked_by:
        message += f" (locked by {locked_by}: change it there)"
    return AuditFinding(
        FindingKind.DRIFT,
        FindingStatus.DRIFT,
        target,
        key,
        dotted(path),
        message,
        where,
        actual=actual,
        expected=expected,
        locked_by=locked_by,
        locks=locks,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ack(entry: AckEntry, today: date) -> Acknowledgement:
    return Acknowledgement(
        entry.target,
        entry.rule,
        entry.field,
        entry.owner,
        entry.reason,
        entry.expires.isoformat(),
        entry.file,
        entry.line,
        expired=entry.expired(today),
    )
