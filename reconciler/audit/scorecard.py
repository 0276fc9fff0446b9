"""The scorecard: where the account stands on each item of each enabled pack, as data.

One row per benchmark item of a `benchmark:` pack (the rules that share an item, such as
`cis-1.1.2.3` and `cis-1.1.2.3-user`, are one row), one per rule of any other pack, and one per
manual item, which no API can check (its row says what to check by hand). A row counts its
targets per level by their outcome; a target that two rules of one item judge counts once, by
its worse outcome. The status is the worst over every level, in the order of ROW_STATUSES.

A failing row says which layer decides it, where the outcomes show it, in the order tried:
- `account`: the account itself fails (what it holds is what groups and users inherit);
- `groups`: the account passes or is not judged, and every failing user is in a failing group;
- `account-lock`: the account passes and no group fails, but users hold other values: the
  account does not lock the field (Zoom would enforce the account's value on every user);
- `per-user`: anything else; the users' own values decide.

A failing row also says where its remedy belongs (`remedy`, one of REMEDY_PLACES), as
`export --remedy` places it from the same outcomes (the repo's own exceptions aside, which the
result does not hold), for the first leaf of the item's first rule with a remedy:
- `group-file`: one group and its members are all that fail (the account does not) and the
  group can set and lock the field: that group's file, with its lock;
- `account-lock`: the account can set and lock the field: `account.yaml`, with its lock (Zoom
  then enforces it on every group and user);
- `account-file`: the account fails and can set the field, and nothing below fails (or the
  account cannot lock it) and the rule asks for no lock;
- `group-files`: the failing groups' files (no lock above holds the field), and `defaults.yaml`
  for the failing users where users can set it;
- `user-files`: only users fail, no lock holds the field: `defaults.yaml` (every user's value);
- `manual`: no rule of the item has a remedy, or no failing level can set it through the API
  (a manual item's row is `manual` too: it is checked and fixed by hand).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from reconciler.audit.model import AuditResult, AuditTarget, PackInfo, RuleOutcome
from reconciler.desired.state import leaves
from reconciler.policy import Rule
from reconciler.policy.celexpr import FAMILY_VARIABLES
from reconciler.policy.fields import lock_for, writable
from reconciler.policy.manual import ManualItem
from reconciler.vocab import LEVELS, Family, LeafPath, Level

ROW_STATUSES = ("fail", "unknown", "acknowledged", "pass", "not_applicable", "manual")
COUNTED = ("pass", "fail", "unknown", "not_applicable", "acknowledged")
LAYERS = ("account", "groups", "account-lock", "per-user")
REMEDY_PLACES = (
    "account-lock", "account-file", "group-file", "group-files", "user-files", "manual",
)  # fmt: skip
_BYTE = {outcome.label: outcome.value for outcome in RuleOutcome}
# Worse outcomes rank higher: a target judged by two rules of one item keeps the worse one.
_RANK_ORDER = ("not_judged", "not_applicable", "pass", "acknowledged", "unknown", "fail")
_RANK_OF = {_BYTE[label]: rank for rank, label in enumerate(_RANK_ORDER)}
_TO_RANK = bytes(_RANK_OF.get(byte, 0) for byte in range(256))  # a byte no outcome has: unjudged
_FROM_RANK = bytes(_BYTE[label] for label in _RANK_ORDER).ljust(256, b"\0")


@dataclass(frozen=True, slots=True)
class ScorecardRow:
    pack: str
    item: str  # the benchmark item's number, or the rule's id in a pack that is no benchmark
    title: str
    status: str  # one of ROW_STATUSES
    rules: tuple[str, ...] = ()  # "pack/id" of each rule that checks it
    # level -> outcome -> targets, for each level the item's rules judge (manual rows: none)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    layer: str | None = None  # a failing row's deciding layer (one of LAYERS)
    profile: int | None = None
    severity: str | None = None  # the most severe of its rules'
    check: str | None = None  # a manual row: what an admin checks by hand, and where
    source: str | None = None  # a manual row: FILE:LINE of its entry in the pack
    remedy: str | None = None  # a failing or manual row: where its fix belongs (REMEDY_PLACES)


@dataclass(frozen=True, slots=True)
class PackScorecard:
    pack: str
    title: str  # the benchmark's title, else the pack's
    benchmark: bool
    rows: tuple[ScorecardRow, ...]

    def totals(self) -> dict[str, int]:
        """Rows per status, every status named."""
        return {status: sum(row.status == status for row in self.rows) for status in ROW_STATUSES}


def scorecard(result: AuditResult) -> list[PackScorecard]:
    """One scorecard per enabled pack, in the result's pack order."""
    segments = _segments(result.targets)
    cards = []
    for pack in _packs(result):
        rules = [rule for rule in result.rules if rule.pack == pack.name]
        cards.append(_pack_card(result, pack, rules, segments))
    return cards


def _packs(result: AuditResult) -> list[PackInfo]:
    """The result's packs, then any pack a rule names that the result does not list."""
    packs = list(result.packs)
    named = {pack.name for pack in packs}
    for rule in result.rules:
        if rule.pack not in named:
            named.add(rule.pack)
            packs.append(PackInfo(rule.pack, rule.pack, rule.file, ""))
    return packs


_Segment = tuple[Level, int, int]


def _segments(targets: Sequence[AuditTarget]) -> list[_Segment]:
    """Runs of targets of one level (the audit lists the account, the groups, then the users)."""
    found: list[_Segment] = []
    for index, target in enumerate(targets):
        level = target.ref.kind
        if found and found[-1][0] == level and found[-1][2] == index:
            found[-1] = (level, found[-1][1], index + 1)
        else:
            found.append((level, index, index + 1))
    return found


def _pack_card(
    result: AuditResult, pack: PackInfo, rules: list[Rule], segments: list[_Segment]
) -> PackScorecard:
    benchmark = pack.benchmark is not None
    by_item: dict[str, list[Rule]] = {}
    for rule in rules:
        by_item.setdefault(rule.item if benchmark and rule.item else rule.id, []).append(rule)
    rows = [_rule_row(result, item, found, segments) for item, found in by_item.items()]
    rows += [_manual_row(item) for item in pack.manual]
    if benchmark:
        rows.sort(key=lambda row: _item_order(row.item))
    return PackScorecard(pack.name, pack.benchmark or pack.title, benchmark, tuple(rows))


def _item_order(item: str) -> tuple[int, ...]:
    parts = item.split(".")
    return tuple(int(part) for part in parts) if all(p.isdigit() for p in parts) else ()


def _manual_row(item: ManualItem) -> ScorecardRow:
    return ScorecardRow(
        item.pack,
        item.item,
        item.title,
        "manual",
        profile=item.profile,
        check=item.check,
        source=f"{item.file}:{item.line}",
        remedy="manual",
    )


def _rule_row(
    result: AuditResult, item: str, rules: list[Rule], segments: list[_Segment]
) -> ScorecardRow:
    outcomes = _combined(result, rules)
    levels = [level for level in LEVELS if any(level in rule.levels for rule in rules)]
    counts: dict[str, dict[str, int]] = {
        level: dict.fromkeys(COUNTED, 0) for level in reversed(levels)
    }
    for level, start, end in segments:
        if level in counts:
            for label in COUNTED:
                counts[level][label] += outcomes.count(_BYTE[label], start, end)
    status = _status(counts)
    first = rules[0]
    failing = status == "fail"
    return ScorecardRow(
        first.pack,
        item,
        first.title,
        status,
        tuple(rule.code for rule in rules),
        counts,
        _layer(result, rules, outcomes, counts, segments) if failing else None,
        first.profile,
        _most_severe(rules),
        remedy=_remedy_place(result, rules, outcomes, segments) if failing else None,
    )


def _combined(result: AuditResult, rules: list[Rule]) -> bytes:
    """One outcome byte per target: the worse of the item's rules' outcomes."""
    rows = [bytes(result.outcomes.get(rule.code, b"")) for rule in rules]
    if len(rows) == 1:
        return rows[0]
    ranked = [row.ljust(len(result.targets), b"\0").translate(_TO_RANK) for row in rows]
    return bytes(map(max, *ranked)).translate(_FROM_RANK)


def _status(counts: dict[str, dict[str, int]]) -> str:
    for status in ROW_STATUSES[:4]:
        if any(level[status] for level in counts.values()):
            return status
    return "not_applicable"


def _most_severe(rules: list[Rule]) -> str:
    order = ("critical", "high", "medium", "low")
    return min((str(rule.severity) for rule in rules), key=order.index)


def _layer(
    result: AuditResult,
    rules: list[Rule],
    outcomes: bytes,
    counts: dict[str, dict[str, int]],
    segments: list[_Segment],
) -> str:
    account = counts.get("account")
    if account is not None and account["fail"]:
        return "account"
    groups = {result.targets[at].ref.name for at in _failing(outcomes, segments, "group")}
    if groups:
        users = (result.targets[at] for at in _failing(outcomes, segments, "user"))
        held = all(groups.intersection(user.groups) for user in users)
        return "groups" if held else "per-user"
    if account is not None and account["pass"] and _lockable(rules):
        return "account-lock"
    return "per-user"


def _failing(outcomes: bytes, segments: list[_Segment], level: Level) -> Iterator[int]:
    """The indices of the targets of `level` that fail."""
    fail = _BYTE["fail"]
    for found, start, end in segments:
        if found != level:
            continue
        at = outcomes.find(fail, start, end)
        while at >= 0:
            yield at
            at = outcomes.find(fail, at + 1, end)


def _lockable(rules: list[Rule]) -> bool:
    """Every field that the item's account-level rules read has a lock at the account."""
    fields = {
        found
        for rule in rules
        if "account" in rule.levels
        for found in rule.reads.fields | rule.reads.required
    }
    return bool(fields) and all(lock_for("account", family, path) for family, path in fields)


def _remedy_leaf(rules: list[Rule]) -> tuple[Family, LeafPath] | None:
    """The first settings leaf of the first of `rules` whose remedy sets one."""
    for rule in rules:
        for key, document in (rule.remedy or {}).items():
            if key == "locks" or key not in FAMILY_VARIABLES:
                continue
            for path, _value in leaves(document):
                return FAMILY_VARIABLES[key], path
    return None


def _remedy_place(
    result: AuditResult, rules: list[Rule], outcomes: bytes, segments: list[_Segment]
) -> str:
    """Where a failing row's fix belongs (the module's docstring says how it is told)."""
    leaf = _remedy_leaf(rules)
    if leaf is None:
        return "manual"
    family, path = leaf
    account = any(True for _ in _failing(outcomes, segments, "account"))
    groups = {result.targets[at].ref.name for at in _failing(outcomes, segments, "group")}
    # The failing users' primary groups (None: no group), not the users: they may be many.
    primaries = {
        (result.targets[at].groups or (None,))[0] for at in _failing(outcomes, segments, "user")
    }
    users = bool(primaries)
    concerned = groups | primaries
    group_lock = lock_for("group", family, path) is not None
    one_group = not account and len(concerned) == 1 and None not in concerned
    if one_group and group_lock and writable("group", family, path):
        return "group-file"
    if writable("account", family, path):
        asks_lock = any("locks" in (rule.remedy or {}) for rule in rules)
        below = bool(groups or users)
        if lock_for("account", family, path) is not None and (below or asks_lock):
            return "account-lock"
        if account:
            return "account-file"
    if groups and writable("group", family, path):
        return "group-files"
    if users and writable("user", family, path):
        return "user-files"
    return "manual"
