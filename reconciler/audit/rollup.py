"""Roll-ups: an audit's findings grouped for a sink that cannot take one per target (SARIF for
GitHub code scanning, the HTML page). Pure data from an `AuditResult`; no verdict changes, only
how the findings are grouped: every finding is in exactly one roll-up, with its status.

`Depth.LAYER` rolls a failing rule up to the layer it fails because of. A user's failed (or
acknowledged) finding of rule R belongs to the finding of its *layer* L when all of these hold,
and otherwise stays the user's own:

1. L is the user's layer for R: the user's primary (first) group when R judges groups and the
   user has a group; the account when the user has no group and R judges the account. (A user
   in a group of a rule that does not judge groups stays per user: the group may hold the
   field, and nothing in the result tells whether it does.)
2. R failed at L too (failed or acknowledged), with a known value.
3. R reads one field only (its value and, maybe, its lock flags). The user's lock flags come
   from the same account and primary-group locks as L's, so a user holding L's value of that
   field has every input of the rule as L has it: the failure is L's.
4. The user's value of that field is L's, compared strictly (JSON-equal: `true` is not `1`).
5. The repo sets nothing for the user on that field (the finding's place is not a line that
   sets the value): a value the repo asks of the user is decided by that line, not by L.

A roll-up at L holds L's own finding (when its status and acknowledgement are the users') and
every user that inherits it, as a count and a sample. The deeper depths group further, for a
sink that is still too small: `Depth.GROUP` the remaining users' findings of a rule (drift: of
a field) per primary group, `Depth.LEVEL` every finding of a rule at one level, `Depth.RULE`
at every level; always per status.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, overload

from reconciler.audit.model import (
    Acknowledgement,
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    light,
)
from reconciler.diff import MISSING

SAMPLE_SIZE = 10
_FAILED = (FindingStatus.FAIL, FindingStatus.ACKNOWLEDGED)


class Depth(IntEnum):
    """How far findings are grouped: each depth groups every roll-up of the one before."""

    LAYER = 1  # a layer's failure with the users who inherit it; everything else per target
    GROUP = 2  # as LAYER, and the other users' findings per rule, primary group and status
    LEVEL = 3  # per rule (drift: per field), level and status
    RULE = 4  # per rule (drift: per field) and status

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class RollUp:
    """Findings that are one problem for a reader: `count` of them, `sample` the first ones.

    `scope`: `target` (one finding), `layer` (`layer`'s failure and the users who inherit it),
    `group` (users of one primary group, or of none, that fail the rule each with a value of
    their own), `level` (every finding of the rule at `first.level`) or `rule` (at every level).
    `acknowledgements`: the distinct entries that accept those of them that are acknowledged.
    """

    scope: str
    first: AuditFinding  # the layer's own finding when it is in the roll-up, else the first one
    count: int
    by_level: dict[str, int]
    sample: tuple[AuditFinding, ...]
    layer: AuditTarget | None = None
    acknowledgements: tuple[Acknowledgement, ...] = ()
    # Of its findings, how many were judged on a lock holder's values, not read: (holder, count).
    inferred: tuple[tuple[str, int], ...] = ()

    @property
    def status(self) -> FindingStatus:
        return self.first.status

    @property
    def kind(self) -> FindingKind:
        return self.first.kind

    @property
    def single(self) -> bool:
        return self.count == 1

    @property
    def inherited(self) -> int:
        """Users in a layer roll-up that inherit the layer's failure (its own finding aside)."""
        return self.by_level.get("user", 0) if self.scope == "layer" else 0

    @property
    def fingerprint(self) -> str:
        """A single finding's own fingerprint; else what is grouped (never the counts, so the
        roll-up keeps its identity across runs while its members change), with the status and
        the acknowledgements that split one group into several."""
        if self.scope == "target":
            return self.first.fingerprint
        first = self.first
        layer = self.layer.ref if self.layer is not None else None
        parts = [
            "rollup", self.scope, first.kind.value, first.rule_code or "", first.field_label,
            first.level if self.scope == "level" else "",
            *(first.target.groups[:1] if self.scope == "group" else ()),
            f"{layer.kind}:{layer.id}" if layer is not None else "",
            "own" if layer is not None and first.target.ref == layer else "",
            first.status.value, *(ack.where for ack in self.acknowledgements),
        ]  # fmt: skip
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass
class _Bucket:
    scope: str
    layer: AuditTarget | None
    limit: int | None
    first: AuditFinding | None = None
    count: int = 0
    by_level: Counter[str] = field(default_factory=Counter)
    sample: list[AuditFinding] = field(default_factory=list)
    acks: dict[Acknowledgement, None] = field(default_factory=dict)
    inferred: Counter[str] = field(default_factory=Counter)

    def add(self, finding: AuditFinding) -> None:
        own = self.layer is not None and finding.target.ref == self.layer.ref
        if self.first is None or own:
            self.first = finding
        self.count += 1
        self.by_level[finding.level] += 1
        if own:  # the layer's own finding leads its sample
            self.sample.insert(0, finding)
            if self.limit is not None and len(self.sample) > self.limit:
                self.sample.pop()
        elif self.limit is None or len(self.sample) < self.limit:
            self.sample.append(finding)
        if finding.acknowledged is not None:
            self.acks[finding.acknowledged] = None
        if finding.inferred_from is not None:
            self.inferred[finding.inferred_from] += 1

    def done(self) -> RollUp:
        assert self.first is not None
        scope = "target" if self.count == 1 and self.scope in ("layer", "group") else self.scope
        return RollUp(
            scope, self.first, self.count, dict(self.by_level), tuple(self.sample),
            self.layer if scope == "layer" else None, tuple(self.acks),
            tuple(sorted(self.inferred.items())),
        )  # fmt: skip


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _one_field(finding: AuditFinding) -> bool:
    rule = finding.rule
    if rule is None:
        return False
    reads = rule.reads
    return len(reads.fields | reads.locks | reads.required) == 1


class _Layers:
    """The failures of the account and the groups, by rule: what a user may inherit."""

    def __init__(self, result: AuditResult) -> None:
        self.account: AuditTarget | None = None
        # A user names its groups by name: a name two groups share names no layer (None).
        self.groups: dict[str, AuditTarget | None] = {}
        for target in result.targets:
            name = target.ref.name
            if target.ref.kind == "account":
                self.account = target
            elif target.ref.kind == "group" and name is not None:
                self.groups[name] = None if name in self.groups else target
        self.failed: dict[tuple[str, str, str], str] = {}
        findings = result.findings
        for index, item in enumerate(light(findings)):
            if item.level == "user" or item.kind is not FindingKind.POLICY:
                continue
            if item.status not in _FAILED:
                continue
            finding = findings[index]
            if finding.rule_code is not None and finding.actual is not MISSING:
                ref = finding.target.ref
                self.failed[(finding.rule_code, ref.kind, ref.id)] = _canonical(finding.actual)

    @staticmethod
    def own_layer(finding: AuditFinding) -> AuditTarget | None:
        """The account or group itself, for its own failed rule: users may join it."""
        failed = finding.rule_code is not None and finding.status in _FAILED
        return finding.target if failed and finding.level != "user" else None

    def layer_of(self, finding: AuditFinding) -> AuditTarget | None:
        """The layer whose failure this finding is (the rule in the module's docstring), or None
        when the finding is the target's own."""
        rule, target = finding.rule, finding.target
        if rule is None or target.ref.kind != "user" or finding.status not in _FAILED:
            return None
        if finding.where is not None and finding.where.sets_value:
            return None
        if finding.actual is MISSING or not _one_field(finding):
            return None
        if target.groups:
            layer = self.groups.get(target.groups[0]) if "group" in rule.levels else None
        else:
            layer = self.account if "account" in rule.levels else None
        if layer is None:
            return None
        held = self.failed.get((finding.rule_code or "", layer.ref.kind, layer.ref.id))
        return layer if held is not None and held == _canonical(finding.actual) else None


def _subject(finding: AuditFinding) -> str:
    """What a coarse roll-up is about: the rule, or drift's field, or an unreadable target."""
    if finding.rule_code is not None:
        return finding.rule_code
    return f"{finding.kind.value}:{finding.field_label}"


def _keyed(
    result: AuditResult, depth: Depth
) -> Iterator[tuple[Hashable, str, AuditTarget | None, AuditFinding]]:
    """Each finding with its roll-up's key, scope and layer."""
    if depth is Depth.LEVEL:
        for finding in result.findings:
            level_key = ("level", _subject(finding), finding.level, finding.status)
            yield level_key, "level", None, finding
        return
    if depth is Depth.RULE:
        for finding in result.findings:
            yield ("rule", _subject(finding), finding.status), "rule", None, finding
        return
    layers = _Layers(result)
    for index, finding in enumerate(result.findings):
        layer = layers.layer_of(finding) or layers.own_layer(finding)
        if layer is None and depth is Depth.GROUP and finding.level == "user":
            primary = finding.target.groups[:1]
            yield ("group", _subject(finding), primary, finding.status), "group", None, finding
            continue
        if layer is None:
            yield ("target", index), "target", None, finding
            continue
        ref = layer.ref
        key = ("layer", finding.rule_code, ref.kind, ref.id, finding.status, finding.acknowledged)
        yield key, "layer", layer, finding


def _single(finding: AuditFinding, sample_size: int | None) -> RollUp:
    """A finding of its own as its roll-up: what a bucket of that one finding makes."""
    acks = (finding.acknowledged,) if finding.acknowledged is not None else ()
    holder = finding.inferred_from
    sample = (finding,) if sample_size is None or sample_size > 0 else ()
    inferred = ((holder, 1),) if holder is not None else ()
    return RollUp("target", finding, 1, {finding.level: 1}, sample, None, acks, inferred)


class RollUps(Sequence[RollUp]):
    """Roll-ups in the order of their first finding. A finding of its own (most of them, in a
    big account) is kept as its index in the findings, 8 bytes, and made into its `RollUp` when
    read: as objects with their finding they cost ~2 KB each, which grew with the account."""

    def __init__(
        self,
        findings: Sequence[AuditFinding],
        order: array[int],
        shared: list[RollUp],
        sample_size: int | None,
    ) -> None:
        self._findings = findings
        self._order = order  # >= 0: a finding's index; < 0: -1 - the index in `shared`
        self._shared = shared
        self._sample_size = sample_size

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> RollUp: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RollUp]: ...
    def __getitem__(self, index: int | slice) -> RollUp | Sequence[RollUp]:
        if isinstance(index, slice):
            return [self[at] for at in range(*index.indices(len(self)))]
        entry = self._order[index]
        if entry < 0:
            return self._shared[-1 - entry]
        return _single(self._findings[entry], self._sample_size)

    def __iter__(self) -> Iterator[RollUp]:
        for at in range(len(self)):
            yield self[at]

    def shared(self) -> list[RollUp]:
        """The roll-ups of more than one possible finding (layer, group, level, rule scopes
        while they are made), without making the single ones."""
        return list(self._shared)

    def count_from(self, start: int) -> int:
        """The findings in the roll-ups from `start` on, without making the single ones."""
        order = self._order
        return sum(1 if order[at] >= 0 else self._shared[-1 - order[at]].count
                   for at in range(start, len(order)))  # fmt: skip


def roll_up(
    result: AuditResult, depth: Depth = Depth.LAYER, sample_size: int | None = SAMPLE_SIZE
) -> RollUps:
    """The roll-ups of `result` at `depth`, in the order of their first finding. `sample_size`
    None keeps every finding in the sample (for checks; a sink wants the bounded sample)."""
    buckets: dict[Hashable, _Bucket] = {}
    order = array("q")
    for key, scope, layer, finding in _keyed(result, depth):
        if scope == "target":
            assert isinstance(key, tuple)
            order.append(key[1])  # the finding's own index
            continue
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(scope, layer, sample_size)
            order.append(-1 - (len(buckets) - 1))
        bucket.add(finding)
    return RollUps(result.findings, order, [bucket.done() for bucket in buckets.values()],
                   sample_size)  # fmt: skip


def count_roll_ups(result: AuditResult, depth: Depth) -> int:
    """How many roll-ups `roll_up(result, depth)` makes, without keeping them (a finding of its
    own is one, and its key is kept by nobody)."""
    singles = 0
    shared: set[Hashable] = set()
    for key, scope, _layer, _finding in _keyed(result, depth):
        if scope == "target":
            singles += 1
        else:
            shared.add(key)
    return singles + len(shared)
