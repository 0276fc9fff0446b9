"""`export --remedy PACK[,PACK]`: the fewest repo edits after which every failing rule that the
API can fix passes for every target, each at the highest layer that decides it.

Which rules fail is the audit's answer (the same reader, engine and lock views), so remediation
acts on exactly what an audit reports. Each leaf of a failing rule's `remedy` is placed by where
the rule fails:

- failing anywhere below the account (a group, users): the account's value, with the account's
  lock on it where the account can lock the field (Zoom then enforces it on every group and
  user, and nobody drifts back); the rule's own `locks` are written wherever it names them;
- only one group and its members fail, the account passes: that group's value and lock;
- no lock above can hold it: each failing group's value, and `defaults.yaml` (every user) for
  users; a user file only where the repo already has one that does not set the field;
- no level that fails can set the field through Zoom's API (its PATCH schema has no such field,
  and no lock above covers it): a manual step, with what to change and where in the web portal.

Exceptions the repo states are kept: a group file, a `members:` profile or a user file that sets
the field, and an acknowledgement of the rule, all leave the field unlocked (a lock would
override them), and the lower layers fix the rest. Every edit is checked against the writable
schema of its level before it is written. Two rules' remedies of one field are merged into one
value that passes both (judged with the rules' own expressions: passcode length 10 passes
`>= 8` and `>= 10`); where no remedied value passes every rule, the conflict is named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.audit.engine import Auditor, AuditSettings
from reconciler.audit.model import AuditFinding, FindingKind, FindingStatus
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.desired.selection import Selection
from reconciler.desired.state import Settings, deep_merged, leaves, nest
from reconciler.desired.writer import Edit
from reconciler.diff import strictly_equal
from reconciler.export.engine import TargetFile, account_file, group_file
from reconciler.policy import Engine, Outcome, Pack, Rule, TargetContext
from reconciler.policy.celexpr import FAMILY_VARIABLES, VARIABLE_OF
from reconciler.policy.fields import lock_for, portal_place, writable
from reconciler.policy.packs import load_selected, selection_for
from reconciler.vocab import Family, LeafPath, Level, email_key

# The family variable name, as a key at the top of a settings file.
_LOCKS = "locks"


@dataclass(frozen=True)
class Leaf:
    """One settings leaf of a remedy, in the repo's shape."""

    family: Family
    path: LeafPath
    value: Any

    @property
    def shown(self) -> str:
        return ".".join((VARIABLE_OF[self.family], *self.path))


@dataclass
class Placement:
    """Where one rule's remedy went: the files it edits and the failing targets it fixes."""

    code: str
    title: str
    failing: int
    fixes: int = 0
    files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (file, key path)
    kept: list[str] = field(default_factory=list)  # exceptions left as the repo states them


@dataclass(frozen=True)
class ManualStep:
    """A failing rule, or a part of one, that no level can set through the API."""

    code: str
    title: str
    failing: int
    what: str  # the field and the value it wants
    where: str  # the web portal's place for it
    why: str

    @property
    def kept(self) -> bool:
        """Left failing for an exception the repo states, not for want of an API."""
        return self.why.startswith(KEPT_WHY)


KEPT_WHY = "its lock would override what "


@dataclass
class Remedies:
    targets: list[TargetFile] = field(default_factory=list)
    placed: list[Placement] = field(default_factory=list)
    manual: list[ManualStep] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


@dataclass
class _Failing:
    """Who fails one rule, by level."""

    rule: Rule
    account: bool = False
    groups: set[str] = field(default_factory=set)
    # email -> the user's primary group ("" for none), and the holder of a lock over the field
    users: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    acknowledged: int = 0

    @property
    def count(self) -> int:
        return int(self.account) + len(self.groups) + len(self.users)


def remedy_leaves(rule: Rule) -> list[Leaf]:
    found = []
    for key, document in (rule.remedy or {}).items():
        if key != _LOCKS:
            found += [Leaf(FAMILY_VARIABLES[key], p, v) for p, v in leaves(document)]
    return found


def remedy_locks(rule: Rule) -> list[LeafPath]:
    """The lock leaves a rule's remedy asks for, repo-shaped under `locks:`."""
    return [path for path, value in leaves((rule.remedy or {}).get(_LOCKS, {})) if value is True]


def packs_for(state: DesiredState, names: Iterable[str]) -> list[Pack]:
    """The named packs with the rules the repo's `policies:` entry for each enables: a remedy
    never fixes a rule the repo has excepted or left out of its profile."""
    chosen = [selection_for(state, name) or Selection(name) for name in names]
    return load_selected(chosen, repo=state.root)


async def find_remedies(
    state: DesiredState, session: Session, packs: list[Pack], level: Level | None
) -> Remedies:
    engine = Engine(packs)
    settings = AuditSettings(datetime.now(UTC).date())
    auditor = Auditor(state, session.reader, engine, settings, workers=session.workers)
    result = await auditor.run()
    failing = _failing_by_rule(result.findings)
    planner = _Planner(state, engine, level)
    for rule in engine.rules:
        if rule.key in failing:
            planner.place(failing[rule.key])
    remedies = planner.finish()
    remedies.unknown = [t.label for t in result.unknown_targets]
    return remedies


def _failing_by_rule(findings: Iterable[AuditFinding]) -> dict[tuple[str, str], _Failing]:
    found: dict[tuple[str, str], _Failing] = {}
    for finding in findings:
        if finding.kind is not FindingKind.POLICY or finding.rule is None:
            continue
        rule = finding.rule
        if finding.status is FindingStatus.ACKNOWLEDGED:
            found.setdefault(rule.key, _Failing(rule)).acknowledged += 1
            continue
        if finding.status is not FindingStatus.FAIL:
            continue
        entry = found.setdefault(rule.key, _Failing(rule))
        ref = finding.target.ref
        if ref.kind == "account":
            entry.account = True
        elif ref.kind == "group" and ref.name is not None:
            entry.groups.add(ref.name)
        elif ref.email is not None:
            primary = finding.target.groups[0] if finding.target.groups else ""
            entry.users[email_key(ref.email)] = (primary, finding.locked_by)
    return {key: entry for key, entry in found.items() if entry.count}


class _Planner:
    def __init__(self, state: DesiredState, engine: Engine, level: Level | None) -> None:
        self.state = state
        self.engine = engine
        self.level = level
        self.files: dict[str, TargetFile] = {}
        # file label -> path -> the values rules want there, with the rules
        self.wanted: dict[str, dict[tuple[str, ...], list[tuple[Any, Rule]]]] = {}
        self.placed: list[Placement] = []
        self.manual: list[ManualStep] = []

    # -- placing one rule -------------------------------------------------------------------------

    def place(self, failing: _Failing) -> None:
        rule = failing.rule
        placement = Placement(rule.code, rule.title, failing.count)
        remedied = remedy_leaves(rule)
        if not remedied:
            self.manual.append(self._manual(failing, None, "the rule has no remedy"))
            return
        unfixed: dict[str, tuple[Leaf, str]] = {}  # target label -> a leaf it misses, and why
        for leaf in remedied:
            for label, why in self._place_leaf(failing, leaf, placement).items():
                unfixed.setdefault(label, (leaf, why))
        kept = {label for label in placement.kept if label in _labels(failing)}
        placement.fixes = failing.count - len(unfixed.keys() | kept)
        if placement.files:
            self.placed.append(placement)
        if unfixed:
            leaf, why = next(iter(unfixed.values()))
            self.manual.append(self._manual(failing, leaf, why, count=len(unfixed)))

    def _place_leaf(self, failing: _Failing, leaf: Leaf, placement: Placement) -> dict[str, str]:
        """Edits for one leaf; the failing targets it cannot fix, each with why."""
        rule = failing.rule
        lock = self._lock_wanted(failing, leaf)
        below = bool(failing.groups or failing.users)
        exceptions = self._exceptions(failing, leaf)
        placement.kept += sorted(exceptions - set(placement.kept))
        unfixed: dict[str, str] = {}
        if not exceptions and self._by_groups(failing, leaf, placement):
            if failing.account and writable("account", leaf.family, leaf.path):
                self._want(account_file(self.state), leaf, rule, placement)
            elif failing.account:
                unfixed["account"] = "the account settings API cannot set it"
            return unfixed
        account_set = writable("account", leaf.family, leaf.path) and (
            failing.account or below or self.level == "account"
        )
        if account_set:
            self._want(account_file(self.state), leaf, rule, placement)
        elif failing.account:
            unfixed["account"] = "the account settings API cannot set it"
        account_lock = lock_for("account", leaf.family, leaf.path)
        stated = self._stated_below(leaf)
        if account_set and account_lock is not None and (lock or below):
            if not exceptions and not stated:
                self._want_lock(account_file(self.state), account_lock, rule, placement)
                return unfixed  # Zoom holds every group and user to the account's value
            if lock and failing.account:
                held = stated[0] if stated else next(iter(sorted(exceptions)))
                unfixed["account"] = f"{KEPT_WHY}{held} states"
            placement.kept += [label for label in stated if label not in placement.kept]
        # Nothing above holds the field for everyone: each failing group, then the users.
        for name in sorted(failing.groups - {e.removeprefix("group ") for e in exceptions}):
            if not self._group_value(failing, leaf, name, placement, lock_members=False):
                unfixed[f"group {name}"] = "the group settings API cannot set it"
        user_writable = writable("user", leaf.family, leaf.path)
        own_values = False
        for email, (_primary, holder) in sorted(failing.users.items()):
            label = f"user {email}"
            if label in exceptions:
                continue
            if holder == "the account":
                if not account_set:
                    unfixed[label] = "locked by the account, whose settings API cannot set it"
            elif holder is not None and holder.startswith("group "):
                group = holder.removeprefix("group ")
                if not self._group_value(failing, leaf, group, placement, lock_members=False):
                    unfixed[label] = f"locked by {holder}, whose settings API cannot set it"
            elif user_writable:
                own_values = True
            else:
                unfixed[label] = "the user settings API cannot set it"
        if own_values:
            self._want(self._defaults_file(), leaf, rule, placement)
        return unfixed

    def _by_groups(self, failing: _Failing, leaf: Leaf, placement: Placement) -> bool:
        """Each group concerned holds (and locks) the value for itself and its members: where
        one group and its members are all that fail, or with `--level group`."""
        groups = set(failing.groups) | {primary for primary, _h in failing.users.values()}
        if self.level == "account" or "" in groups or not groups:
            return False
        if self.level != "group" and (failing.account or len(groups) > 1):
            return False
        lockable = lock_for("group", leaf.family, leaf.path) is not None
        if not lockable or not writable("group", leaf.family, leaf.path):
            return False
        for name in sorted(groups):
            self._group_value(failing, leaf, name, placement, lock_members=True)
        return True

    def _group_value(
        self, failing: _Failing, leaf: Leaf, name: str, placement: Placement, *, lock_members: bool
    ) -> bool:
        """The group's value, locked where its members must follow it or the rule asks; False
        when the group cannot hold it (or, for its members, cannot lock it)."""
        lock = lock_for("group", leaf.family, leaf.path)
        if not writable("group", leaf.family, leaf.path) or (lock_members and lock is None):
            return False
        target = group_file(self.state, name)
        self._want(target, leaf, failing.rule, placement)
        if lock is not None and (lock_members or self._lock_wanted(failing, leaf)):
            self._want_lock(target, lock, failing.rule, placement)
        return True

    def _lock_wanted(self, failing: _Failing, leaf: Leaf) -> bool:
        """The rule asks for a lock over this leaf (its remedy's `locks`)."""
        return any(_covers(path, leaf) for path in remedy_locks(failing.rule))

    def _stated_below(self, leaf: Leaf) -> list[str]:
        """The repo's layers below the account that set the leaf to another value: an account
        lock would override them (the plan would call them BLOCKED)."""
        found = []
        for name, group in sorted(self.state.groups.items()):
            if _differs(group.settings, leaf):
                found.append(f"group {name}")
            if group.members and _differs(group.members.settings, leaf):
                found.append(f"the members: profile of group {name}")
        found += [f"user {key}" for key, user in sorted(self.state.users.items())
                  if _differs(user.settings, leaf)]  # fmt: skip
        return found

    def _exceptions(self, failing: _Failing, leaf: Leaf) -> set[str]:
        """Targets whose own value the repo states (a file, a profile), and acknowledged ones:
        a lock above would override them."""
        found: set[str] = set()
        for name, group in self.state.groups.items():
            if _sets(group.settings, leaf) and name in failing.groups:
                found.add(f"group {name}")
        for email, (primary, _holder) in failing.users.items():
            user = self.state.users.get(email)
            primary_group = self.state.groups.get(primary)
            profile = (
                primary_group.members.settings if primary_group and primary_group.members else None
            )
            if (user and _sets(user.settings, leaf)) or (profile and _sets(profile, leaf)):
                found.add(f"user {email}")
        if failing.acknowledged:
            found.add(f"{failing.acknowledged} acknowledged target(s)")
        return found

    def _defaults_file(self) -> TargetFile:
        file = self.state.defaults_file or self.state.options.defaults_file
        return TargetFile(
            "user",
            "defaults",
            file,
            _header_of(file),
            {},
            exists=self.state.defaults_file is not None,
            kind="defaults",
        )

    def _manual(
        self, failing: _Failing, leaf: Leaf | None, why: str, *, count: int | None = None
    ) -> ManualStep:
        rule = failing.rule
        what = f"{leaf.shown}: {leaf.value!r}" if leaf else rule.title
        if rule.portal:
            where = rule.portal
        elif leaf:
            where = portal_place(leaf.family, leaf.path)
        else:
            where = "see the rule's references"
        return ManualStep(
            rule.code, rule.title, failing.count if count is None else count,
            what, where, why,
        )  # fmt: skip

    # -- collecting and merging -------------------------------------------------------------------

    def _file(self, target: TargetFile) -> TargetFile:
        return self.files.setdefault(target.label, target)

    def _want(self, target: TargetFile, leaf: Leaf, rule: Rule, placement: Placement) -> None:
        held = self._file(target)
        path = (VARIABLE_OF[leaf.family], *leaf.path)
        self.wanted.setdefault(held.label, {}).setdefault(path, []).append((leaf.value, rule))
        spot = (held.file, path)
        if spot not in placement.files:
            placement.files.append(spot)

    def _want_lock(
        self, target: TargetFile, lock: LeafPath, rule: Rule, placement: Placement
    ) -> None:
        held = self._file(target)
        path = (_LOCKS, *lock)
        self.wanted.setdefault(held.label, {}).setdefault(path, []).append((True, rule))
        if (held.file, path) not in placement.files:
            placement.files.append((held.file, path))

    def finish(self) -> Remedies:
        conflicts: list[str] = []
        for label, target in self.files.items():
            wanted = self.wanted.get(label, {})
            document = {path: values[-1][0] for path, values in wanted.items()}
            for path, values in wanted.items():
                if path[0] == _LOCKS:
                    continue
                value, conflict = self._merged(target, path, values, document)
                document[path] = value
                if conflict:
                    conflicts.append(conflict)
            target.edits = [Edit(path, value) for path, value in sorted(document.items())]
        targets = [t for t in self.files.values() if t.edits]
        return Remedies(targets, self.placed, self.manual, conflicts)

    def _merged(
        self,
        target: TargetFile,
        path: tuple[str, ...],
        values: list[tuple[Any, Rule]],
        document: dict[tuple[str, ...], Any],
    ) -> tuple[Any, str | None]:
        """The first wanted value that every rule wanting this field passes with."""
        rules = _unique([rule for _value, rule in values])
        candidates = _unique_values([value for value, _rule in values])
        if len(candidates) == 1:
            return candidates[0], None
        level: Level = "user" if target.kind == "defaults" else target.level
        for candidate in sorted(candidates, key=_strictness, reverse=True):
            trial = {**document, path: candidate}
            if all(self._passes(rule, level, trial) for rule in rules):
                return candidate, None
        codes = " and ".join(rule.code for rule in rules)
        return values[-1][0], (
            f"{target.file} {'.'.join(path)}: no remedied value passes both {codes}"
            " (reconciler validate names the pair; drop one with except:)"
        )

    def _passes(self, rule: Rule, level: Level, document: dict[tuple[str, ...], Any]) -> bool:
        documents: dict[Family, dict[str, Any]] = {}
        for path, value in document.items():
            if path[0] == _LOCKS:
                continue
            family = FAMILY_VARIABLES[path[0]]
            documents[family] = deep_merged(documents.get(family, {}), nest({path[1:]: value}))
        context = TargetContext(level, documents=documents)
        return self.engine.evaluate_rule(rule, context).outcome is not Outcome.FAIL


def _labels(failing: _Failing) -> list[str]:
    labels = ["account"] if failing.account else []
    labels += [f"group {name}" for name in sorted(failing.groups)]
    return labels + [f"user {email}" for email in sorted(failing.users)]


def _covers(lock: LeafPath, leaf: Leaf) -> bool:
    """A remedy lock (repo-shaped, under `locks:`) over this leaf."""
    if leaf.family == "meeting_security":
        return lock[0] == "meeting_security" and leaf.path[: len(lock) - 1] == lock[1:]
    target = lock_for("account", leaf.family, leaf.path) or lock_for(
        "group", leaf.family, leaf.path
    )
    return target is not None and target[: len(lock)] == lock


def _sets(settings: Settings, leaf: Leaf) -> bool:
    """The layer sets the leaf, or a leaf below or above it."""
    for path, _value in settings.flat(leaf.family).items():
        shorter = min(len(path), len(leaf.path))
        if path[:shorter] == leaf.path[:shorter]:
            return True
    return False


def _differs(settings: Settings, leaf: Leaf) -> bool:
    """The layer sets the leaf (or a leaf below or above it) to something else."""
    for path, value in settings.flat(leaf.family).items():
        shorter = min(len(path), len(leaf.path))
        if path[:shorter] == leaf.path[:shorter] and not (
            path == leaf.path and strictly_equal(value, leaf.value)
        ):
            return True
    return False


def _unique(rules: list[Rule]) -> list[Rule]:
    seen: dict[tuple[str, str], Rule] = {}
    for rule in rules:
        seen.setdefault(rule.key, rule)
    return list(seen.values())


def _unique_values(values: list[Any]) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if not any(strictly_equal(value, known) for known in found):
            found.append(value)
    return found


def _strictness(value: Any) -> tuple[int, Any]:
    """Larger numbers first (a longer passcode passes every shorter minimum); others as given."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (0, 0)


def _header_of(file: str) -> str:
    depth = file.count("/")
    return "../" * depth + "schemas/repo/defaults.schema.json"


def remedy_summary(
    remedies: Remedies, lines_of: dict[tuple[str, tuple[str, ...]], int]
) -> Iterator[str]:
    """The remedy summary: each rule acted on with where it wrote, the manual steps, conflicts."""
    for placement in remedies.placed:
        where = ", ".join(
            f"{file}:{lines_of.get((file, path), 1)} {'.'.join(path)}"
            for file, path in placement.files
        )
        yield (
            f"remedy of {placement.code}: fixes {placement.fixes} of {placement.failing}"
            f" failing target(s): {where}"
        )
        if placement.kept:
            yield f"  kept as the repo states them: {', '.join(placement.kept[:5])}" + (
                f" and {len(placement.kept) - 5} more" if len(placement.kept) > 5 else ""
            )
    for step in remedies.manual:
        if step.kept:
            yield (
                f"left failing: {step.code} ({step.title}): {step.failing} target(s): {step.why};"
                " drop that value, or acknowledge the rule in acknowledged.yaml"
            )
            continue
        yield (
            f"manual: {step.code} ({step.title}): {step.failing} failing target(s): set"
            f" {step.what} in the Zoom web portal, {step.where} ({step.why})"
        )
    for conflict in remedies.conflicts:
        yield f"conflict: {conflict}"
