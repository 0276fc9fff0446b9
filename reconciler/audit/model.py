"""The audit result: one value that every report format renders, so the formats cannot disagree.

What an audit read: every target (the account, every group, every active user) with its groups
and whether its read failed; per rule, one outcome per target (a byte per target, so 133 rules
over 50,000 users cost 6.6 MB, and JUnit can still list every target a rule judged); and the
findings: every failed rule, every rule that could not be judged, every drifted managed field,
every target that could not be read, and every acknowledged one of those. Passes are counted,
not listed.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any, overload

from reconciler.audit.changed_by import NOTHING_KNOWN, ChangedBy, KnownChanges
from reconciler.desired.models import KEY_OF_FAMILY
from reconciler.diff import MISSING
from reconciler.policy import Rule
from reconciler.policy.manual import ManualItem
from reconciler.targets import TargetRef

FORMAT_VERSION = 1


class FindingKind(StrEnum):
    POLICY = "policy"  # a rule over the target's live effective values
    DRIFT = "drift"  # a managed field whose live value differs from the repo's
    READ = "read"  # the target could not be read: its state is unknown


class FindingStatus(StrEnum):
    FAIL = "fail"
    UNKNOWN = "unknown"
    DRIFT = "drift"
    ACKNOWLEDGED = "acknowledged"


class RuleOutcome(IntEnum):
    """One byte per target in `AuditResult.outcomes` (NOT_JUDGED: not at the rule's level)."""

    NOT_JUDGED = 0
    PASS = 1
    FAIL = 2
    NOT_APPLICABLE = 3
    UNKNOWN = 4
    ACKNOWLEDGED = 5  # failed, and an unexpired acknowledgement accepts it

    @property
    def label(self) -> str:
        return self.name.lower()


def field_label(family: str, path: str, *, locks: bool = False) -> str:
    if not locks:
        return f"{family}.{path}" if path else family
    if family == "settings":
        return f"locks.{path}" if path else "locks"
    return f"locks.{family}.{path}" if path else f"locks.{family}"


@dataclass(frozen=True, slots=True)
class Where:
    """A file and 1-based line: the repo file that sets the value, or the rule's line.

    `sets_value`: the line sets the field's value (False: the rule's line in its policy file,
    for a target no YAML names). `in_repo`: the file is in the settings repo (False: a pack
    shipped with the tool, its path relative to the tool's `policies/`).
    """

    file: str
    line: int
    col: int = 1
    in_repo: bool = True
    sets_value: bool = True

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """One entry of `acknowledged.yaml`: an accepted deviation, until it expires."""

    target: str  # the selector as written: account, group:NAME, user:EMAIL, or `*`
    rule: str | None  # "pack/id", or None when the entry names a field
    field: str | None  # "family.dotted.path", or None when it names a rule
    owner: str
    reason: str
    expires: str  # ISO date, inclusive
    file: str
    line: int
    expired: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """One target the audit covered. `unknown`: why its read failed (None when it was read)."""

    ref: TargetRef
    groups: tuple[str, ...] = ()
    managed: bool = False  # the repo asks something of it
    unknown: str | None = None
    # (family key, who locks it) for each family not read but inferred from the locks above
    inferred: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return self.ref.label

    def inferred_from(self, families: Iterable[str]) -> str | None:
        """Who locks the values these families (repo keys) were inferred from; None: read."""
        holders = {who for family, who in self.inferred if family in families}
        return " and ".join(sorted(holders)) if holders else None


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One result an auditor must see. `actual`/`expected` are MISSING where not known."""

    kind: FindingKind
    status: FindingStatus
    target: AuditTarget
    # The family's key in the repo (settings, meeting_security, meeting_authentication,
    # recording_authentication); None for a whole-target read failure.
    family: str | None
    path: str | None  # dotted, in the repo's shape
    message: str
    where: Where | None = None
    actual: Any = MISSING
    expected: Any = MISSING
    rule: Rule | None = None
    locked_by: str | None = None  # "the account" or "group NAME" where a lock above fixes it
    locks: bool = False  # the field is a lock setting (drift of an account or group lock)
    acknowledged: Acknowledgement | None = None

    @property
    def level(self) -> str:
        return self.target.ref.kind

    @property
    def severity(self) -> str:
        """The rule's severity; drift is medium, an unreadable target high."""
        if self.rule is not None:
            return str(self.rule.severity)
        return "high" if self.kind is FindingKind.READ else "medium"

    @property
    def rule_code(self) -> str | None:
        return self.rule.code if self.rule is not None else None

    @property
    def field_label(self) -> str:
        """The field as the repo's YAML spells it (`settings.in_meeting.chat`,
        `locks.in_meeting.chat`, `locks.meeting_security.waiting_room`), or `-` for a whole
        target."""
        if self.family is None:
            return "-"
        return field_label(self.family, self.path or "", locks=self.locks)

    @property
    def failing(self) -> bool:
        return self.status is not FindingStatus.ACKNOWLEDGED

    @property
    def inferred_from(self) -> str | None:
        """ "the account" or "group NAME" when the values judged were not read but inferred
        from that holder's locks (see `audit.inference`)."""
        if not self.target.inferred or self.locks:
            return None
        if self.rule is not None:
            reads = self.rule.reads
            return self.target.inferred_from(
                {KEY_OF_FAMILY[f] for f, _ in reads.fields | reads.locks}
            )
        return self.target.inferred_from((self.family,)) if self.family else None

    @property
    def fingerprint(self) -> str:
        """Stable across runs: what was found where, not its value or its status (so an
        acknowledged finding keeps its identity), for SARIF's partialFingerprints."""
        ref = self.target.ref
        parts = [self.kind.value, self.rule_code or "", ref.kind, ref.id, self.field_label]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Light:
    """What counts and indexes need of a finding, made without the finding itself."""

    kind: FindingKind
    status: FindingStatus
    target: AuditTarget
    severity: str
    rule_code: str | None = None

    @property
    def failing(self) -> bool:
        return self.status is not FindingStatus.ACKNOWLEDGED

    @property
    def level(self) -> str:
        return self.target.ref.kind


def _light(finding: AuditFinding) -> Light:
    return Light(finding.kind, finding.status, finding.target, finding.severity, finding.rule_code)


def light(findings: Sequence[AuditFinding]) -> Iterator[Light]:
    if isinstance(findings, FindingStore):
        return findings.light()
    return (_light(finding) for finding in findings)


_SHARED_MESSAGES = 10_000


class FindingStore(Sequence[AuditFinding]):
    """The findings of an audit in target order, with failed rules kept in columns.

    A rule that fails for most users of a 50,000-user account makes millions of findings; as
    objects they cost ~500 bytes each. A failed (or acknowledged) rule is fully described by the
    target, the rule, where the value is set, the live value and the acknowledgement, so it is
    kept as ~12 bytes of columns and made into an `AuditFinding` when a report reads it. Drift,
    unreadable targets and rules that could not be judged stay objects.
    """

    def __init__(
        self,
        targets: Sequence[AuditTarget],
        rules: Sequence[Rule],
        acknowledgements: Sequence[Acknowledgement],
        first_field: Any,
    ) -> None:
        self._targets = targets
        self._rules = rules
        self._acks = acknowledgements
        self._first_field = first_field  # rule -> (family key, dotted path, expected)
        self._objects: list[AuditFinding] = []
        self._object_at = array("i")  # the positions of `_objects`, ascending
        # The target of each row, run-length: the rows of one target come together (an audit
        # adds them in target order), so a target costs 8 bytes, not 4 per row. A row holding
        # an object is in no run: its finding names its target.
        self._run_start = array("i")
        self._run_target = array("i")
        self._rule = array("h")
        self._where = array("i")
        self._ack = array("h")
        # The live values, each distinct scalar kept once: a value read from a user's document
        # is a string of its own per user, which its finding alone would keep alive.
        self._actual = array("i")
        self._values: list[Any] = []
        self._value_index: dict[tuple[type, Any], int] = {}
        self._wheres: dict[Where, int] = {}
        self._where_list: list[Where] = []
        self._messages: dict[str, str] = {}
        self._per_rule: dict[int, tuple[str, str, Any, str]] = {}

    def add(self, finding: AuditFinding) -> None:
        self._object_at.append(len(self))
        self._objects.append(self._shared(finding))
        for column in (self._where, self._actual):
            column.append(0)
        for small in (self._rule, self._ack):
            small.append(0)

    def add_rule_failure(
        self, target: int, rule: int, where: Where, actual: Any, ack: int | None
    ) -> None:
        if not self._run_target or self._run_target[-1] != target:
            self._run_start.append(len(self))
            self._run_target.append(target)
        self._rule.append(rule)
        self._where.append(self._where_index(where))
        self._ack.append(-1 if ack is None else ack)
        self._actual.append(self._value(actual))

    def _shared(self, finding: AuditFinding) -> AuditFinding:
        """The finding with its place and message as the store already holds them: a field
        that drifts for every user the same way makes the same message per user."""
        where, message = finding.where, finding.message
        if where is not None:
            where = self._where_list[self._where_index(where)]
        message = self._messages.setdefault(message, message)
        if len(self._messages) > _SHARED_MESSAGES:  # many distinct ones: no sharing to be had
            self._messages.clear()
        if where is finding.where and message is finding.message:
            return finding
        return replace(finding, where=where, message=message)

    def _where_index(self, where: Where) -> int:
        found = self._wheres.get(where)
        if found is None:
            found = self._wheres[where] = len(self._where_list)
            self._where_list.append(where)
        return found

    def _value(self, value: Any) -> int:
        """The index of `value` in `_values`; a string, an int or a bool is found by its type and
        value (so `1` is not `true`), anything else (a float: -0.0 equals 0.0) kept as it is."""
        if value is None or isinstance(value, (str, int, bool)) or value is MISSING:
            key = (type(value), value)
            found = self._value_index.get(key)
            if found is None:
                found = self._value_index[key] = len(self._values)
                self._values.append(value)
            return found
        self._values.append(value)
        return len(self._values) - 1

    def _target_of(self, index: int) -> int:
        """The target index of the row at `index` (a row of the columns)."""
        return self._run_target[bisect_right(self._run_start, index) - 1]

    def _object_index(self, index: int) -> int:
        """The index in `_objects` of the finding at `index`; -1: a row of the columns."""
        at = bisect_left(self._object_at, index)
        return at if at < len(self._object_at) and self._object_at[at] == index else -1

    def __len__(self) -> int:
        return len(self._rule)

    @overload
    def __getitem__(self, index: int) -> AuditFinding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AuditFinding]: ...
    def __getitem__(self, index: int | slice) -> AuditFinding | Sequence[AuditFinding]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        found = self._object_index(index)
        if found >= 0:
            return self._objects[found]
        return self._made(index)

    def __iter__(self) -> Iterator[AuditFinding]:
        object_at, next_object = self._object_at, 0
        for index in range(len(self)):
            if next_object < len(object_at) and object_at[next_object] == index:
                yield self._objects[next_object]
                next_object += 1
            else:
                yield self._made(index)

    def light(self) -> Iterator[Light]:
        """What the counts need of each finding, without making the objects."""
        codes = [(rule.code, str(rule.severity)) for rule in self._rules]
        object_at, next_object = self._object_at, 0
        starts, run = self._run_start, -1
        for index in range(len(self)):
            if next_object < len(object_at) and object_at[next_object] == index:
                yield _light(self._objects[next_object])
                next_object += 1
                continue
            while run + 1 < len(starts) and starts[run + 1] <= index:
                run += 1
            target = self._targets[self._run_target[run]]
            status = FindingStatus.FAIL if self._ack[index] < 0 else FindingStatus.ACKNOWLEDGED
            code, severity = codes[self._rule[index]]
            yield Light(FindingKind.POLICY, status, target, severity, code)

    def _made(self, index: int) -> AuditFinding:
        rule_index = self._rule[index]
        rule = self._rules[rule_index]
        if rule_index not in self._per_rule:
            key, path, expected = self._first_field(rule)
            message = f"{rule.id} ({rule.title}) fails: {rule.rationale}"
            self._per_rule[rule_index] = (key, path, expected, message)
        key, path, expected, message = self._per_rule[rule_index]
        ack_index = self._ack[index]
        ack = None if ack_index < 0 else self._acks[ack_index]
        return AuditFinding(
            FindingKind.POLICY,
            FindingStatus.FAIL if ack is None else FindingStatus.ACKNOWLEDGED,
            self._targets[self._target_of(index)],
            key,
            path,
            message,
            self._where_list[self._where[index]],
            actual=self._values[self._actual[index]],
            expected=expected,
            rule=rule,
            acknowledged=ack,
        )


@dataclass(frozen=True, slots=True)
class PackInfo:
    name: str
    title: str
    file: str
    sha256: str  # of the pack file's bytes
    benchmark: str | None = None  # the benchmark it follows item by item (its scorecard rows)
    manual: tuple[ManualItem, ...] = ()  # its enabled items that no API can check
    # The reconciler.yaml line that enables the pack (None: named on the command line only).
    enabled_at: Where | None = None


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that changed in Zoom between two snapshots (unmanaged fields included)."""

    target: str  # the target's label ("user alice@acme.test")
    key: str  # the snapshot key ("user:ID")
    family: str
    path: str  # dotted; "" when the whole target appeared or went
    before: Any = MISSING
    after: Any = MISSING


@dataclass
class SinceReport:
    """What changed in Zoom since an earlier snapshot."""

    snapshot: str  # the earlier snapshot's path as given
    taken_at: str
    targets_compared: int = 0
    targets_changed: int = 0
    added: list[str] = field(default_factory=list)  # target labels
    removed: list[str] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: str
    sha256: str  # of the compressed file
    manifest_sha256: str  # over the per-target hashes, in order
    targets: int


@dataclass
class AuditResult:
    account_id: str = ""
    started_at: str = ""
    finished_at: str = ""
    repo_path: str = ""
    repo_commit: str | None = None
    tool_version: str = ""
    packs: list[PackInfo] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    targets: list[AuditTarget] = field(default_factory=list)
    # rule code ("pack/id") -> one RuleOutcome byte per target, in `targets` order
    outcomes: dict[str, bytearray] = field(default_factory=dict)
    # targets the repo manages that drift judged: index into `targets` -> drifted field count
    drift_judged: dict[int, int] = field(default_factory=dict)
    findings: Sequence[AuditFinding] = field(default_factory=list)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)
    since: SinceReport | None = None
    snapshot: SnapshotInfo | None = None
    requests_sent: int = 0
    read_all: bool = False  # `--read-all`: no family was inferred from locks
    reads_inferred: int = 0  # family reads not sent: inferred from the locks above
    # who changed a drifted field, as `reconciler watch` saw Zoom's events (`changed_by`)
    known_changes: KnownChanges = NOTHING_KNOWN

    def changed_by(self, finding: AuditFinding) -> ChangedBy | None:
        """Who made a drift finding's live value, when the watcher's record knows it."""
        if finding.kind is not FindingKind.DRIFT:
            return None
        ref = finding.target.ref
        return self.known_changes.of(
            ref.kind, ref.id, finding.family, finding.path, locks=finding.locks
        )

    @property
    def inferred_targets(self) -> int:
        return sum(bool(target.inferred) for target in self.targets)

    @property
    def inferred_note(self) -> str | None:
        """The count line every format shows when some reads were inferred from locks."""
        if not self.reads_inferred:
            return None
        return (
            f"Inferred from locks above, not read: {self.reads_inferred} family reads of "
            f"{self.inferred_targets} users (the locked value is what Zoom enforces on them; "
            "--read-all reads them)"
        )

    # -- counts ---------------------------------------------------------------------------------

    def rule_counts(self, code: str) -> dict[str, int]:
        """pass / fail / not_applicable / unknown / acknowledged counts of one rule."""
        found = Counter(self.outcomes.get(code, b""))
        return {
            outcome.label: found[outcome]
            for outcome in RuleOutcome
            if outcome is not RuleOutcome.NOT_JUDGED
        }

    def counts_by_result(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for code in self.outcomes:
            for label, count in self.rule_counts(code).items():
                totals[label] += count
        for item in light(self.findings):
            if item.kind is FindingKind.DRIFT:
                totals["drift" if item.failing else "acknowledged"] += 1
        totals["unreadable_targets"] = sum(t.unknown is not None for t in self.targets)
        order = ["pass", "fail", "not_applicable", "unknown", "drift", "acknowledged"]
        return {key: totals[key] for key in [*order, "unreadable_targets"]}

    def counts_by(self, attribute: str) -> dict[str, int]:
        """Failing findings by `level` or `severity`."""
        found = Counter(str(getattr(f, attribute)) for f in light(self.findings) if f.failing)
        return dict(sorted(found.items()))

    def counts_by_group(self) -> dict[str, int]:
        """Failing findings of users by each group they belong to (`(no group)` for none)."""
        found: Counter[str] = Counter()
        for item in light(self.findings):
            if item.failing and item.level == "user":
                for name in item.target.groups or ("(no group)",):
                    found[name] += 1
        return dict(sorted(found.items()))

    @property
    def failing_count(self) -> int:
        return sum(item.failing for item in light(self.findings))

    @property
    def unknown_targets(self) -> list[AuditTarget]:
        return [target for target in self.targets if target.unknown is not None]

    @property
    def clean(self) -> bool:
        return not any(item.failing for item in light(self.findings))

    def statuses(self) -> set[FindingStatus]:
        return {item.status for item in light(self.findings)}
