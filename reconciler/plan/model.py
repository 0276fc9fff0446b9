"""The Plan: ordered, serialisable, checksummed data that a reviewer approves and apply executes.

Changes are ordered account, groups (by name), users (by email); within a target by family
(Zoom's order) and then by the order of the keys in the desired document. `requests` are exactly
what apply would send. The checksum is a sha256 over the canonical JSON of everything else, so a
saved plan that was edited is refused, and so is one whose summary its changes contradict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from reconciler.diagnostic import Diagnostic, diagnostic_from_json, diagnostic_json
from reconciler.diff import MISSING
from reconciler.errors import PlanFileError, PlanRefused
from reconciler.targets import KIND_ORDER, TargetRef
from reconciler.vocab import LOCK_FAMILIES, Family, LeafPath, Level, family_of_option, family_option
from reconciler.zoom.endpoints import lock_settings_path, settings_path

FORMAT_VERSION = 3
# Format 2 wrote no `writes` in a request (it followed from the path); such plans still load.
READABLE_VERSIONS = (2, FORMAT_VERSION)


class Status(StrEnum):
    """What a plan makes of a change: send it, or leave it because nothing can make it."""

    PENDING = "pending"
    BLOCKED = "blocked"


class Writes(StrEnum):
    """Which of a target's documents a change or request writes."""

    SETTINGS = "settings"
    LOCKS = "locks"


# A change's target, family, leaf and whether it writes the locks (`Change.key`).
ChangeKey = tuple[TargetRef, Family, LeafPath, Writes]


class _FamilyAndWrites:
    """What a change and a request share: the family written and whether it is the locks."""

    family: Family
    writes: Writes

    @property
    def option(self) -> str | None:
        """Zoom's `option` query value for the family (None for general settings)."""
        return family_option(self.family)

    @property
    def locks(self) -> bool:
        return self.writes is Writes.LOCKS


@dataclass(frozen=True)
class Change(_FamilyAndWrites):
    """One managed leaf of one target's family that differs from what the repo asks.

    For a lock change (`writes` is LOCKS), `family` is the lock family (general or
    meeting_security).
    """

    target: TargetRef
    family: Family
    path: LeafPath
    before: Any
    after: Any
    source: str
    status: Status = Status.PENDING
    reason: str | None = None
    writes: Writes = Writes.SETTINGS

    @property
    def key(self) -> ChangeKey:
        """What the change is to, whatever its values: target, family, leaf, settings or locks."""
        return self.target, self.family, self.path, self.writes

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_json(),
            "option": self.option,
            "path": list(self.path),
            "before": None if self.before is MISSING else self.before,
            "after": self.after,
            "source": self.source,
            "status": self.status.value,
            "reason": self.reason,
            "locks": self.locks,
            "before_known": self.before is not MISSING,
        }


@dataclass(frozen=True)
class Request(_FamilyAndWrites):
    """One PATCH of one target's family: settings or lock settings, and the leaves it carries.

    Method, path and query follow from the typed fields, so a request cannot name another
    target's path than its own.
    """

    target: TargetRef
    family: Family
    writes: Writes
    body: dict[str, Any]
    # The changed leaves this body carries (repo shape), for compare-and-set and verification.
    fields: tuple[LeafPath, ...] = ()

    method = "PATCH"

    @property
    def level(self) -> Level:
        return self.target.kind

    @property
    def path(self) -> str:
        if self.writes is Writes.LOCKS:
            if self.target.kind == "user":
                raise PlanFileError(f"{self.target.label} has no lock settings")
            return lock_settings_path(self.target.kind, self.target.id)
        return settings_path(self.target.kind, self.target.id)

    @property
    def query(self) -> dict[str, str]:
        option = self.option
        return {"option": option} if option else {}

    def to_json(self, version: int = FORMAT_VERSION) -> dict[str, Any]:
        """As plan format `version` writes it (format 2 had no `writes`)."""
        written = {"writes": self.writes.value} if version >= 3 else {}
        return {
            "target": self.target.to_json(),
            "option": self.option,
            **written,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "fields": [list(path) for path in self.fields],
        }


@dataclass(frozen=True)
class Unknown:
    target: TargetRef
    option: str | None
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target.to_json(), "option": self.option, "error": self.error}


class FindingState(StrEnum):
    INTRODUCED = "introduced"  # the plan makes the target break the rule
    FIXED = "fixed"  # the plan makes it comply
    LEFT = "left"  # broken now, and still after the plan
    UNKNOWN = "unknown"  # the rule could not be evaluated after the plan


@dataclass(frozen=True)
class Finding:
    target: TargetRef
    rule: str  # pack/id
    title: str
    severity: str
    state: FindingState

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_json(),
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "state": self.state.value,
        }


@dataclass(frozen=True)
class Weakening:
    """A planned change that a rule marks as weakening security."""

    change: Change
    rules: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change.to_json(), "rules": list(self.rules)}


@dataclass(frozen=True)
class Refusal:
    """One reason apply refuses the plan without --force: `code` names the limit or check
    (max_changed_targets, max_changed_percent, weakens_security), `reason` says why."""

    code: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass
class Summary:
    targets: int = 0
    targets_in_sync: int = 0
    targets_with_changes: int = 0
    changes_pending: int = 0
    changes_blocked: int = 0
    unknown_targets: int = 0
    reads_skipped_locked: int = 0
    targets_skipped_unchanged: int = 0
    requests_sent: int = 0
    files_skipped: int = 0  # user files for users not active in Zoom (warnings)


@dataclass(repr=False)
class Plan:
    changes: list[Change] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    repo_commit: str | None = None
    repo_path: str = ""
    format_version: int = FORMAT_VERSION
    # What the plan is bound to: the Zoom account it read, when, and the repo files it was
    # made from (path -> sha256), so apply can refuse it for another account or repo state.
    account_id: str | None = None
    created_at: str | None = None
    repo_files: dict[str, str] = field(default_factory=dict)
    # Managed targets below a planned account or group change: their values could move with
    # it, so apply reads them again before it says "converged".
    below_changes: list[TargetRef] = field(default_factory=list)
    # Files the run left out, each with why: a user who is not active, or no longer in Zoom.
    skipped: list[Diagnostic] = field(default_factory=list)
    # What the repo's policy packs make of the targets read, and the changes they mark as
    # weakening security (apply refuses those without --force, judging them again itself).
    findings: list[Finding] = field(default_factory=list)  # introduced, fixed, unknown
    findings_left: dict[str, int] = field(default_factory=dict)  # rule -> targets still failing
    weakening: list[Weakening] = field(default_factory=list)
    # Why apply would refuse this plan without --force (safety limits, weakening changes).
    refusals: list[Refusal] = field(default_factory=list)
    # With --changed-since: the BLOCKED changes the base revision asked for as well, so the
    # change under review did not bring them (they are shown, and do not fail it).
    blocked_before: set[ChangeKey] = field(default_factory=set)
    # The file a saved plan was loaded from, named in every refusal of it (never saved).
    file: str | None = field(default=None, compare=False)

    @property
    def introduced(self) -> list[Finding]:
        return [f for f in self.findings if f.state is FindingState.INTRODUCED]

    def __repr__(self) -> str:
        # Short on purpose: asyncio reprs a finished task's result, and a full repr of a plan
        # for 20,000 users is a string of tens of megabytes.
        return (
            f"Plan({len(self.changes)} changes, {len(self.requests)} requests, "
            f"{len(self.unknown)} unknown)"
        )

    @property
    def pending(self) -> list[Change]:
        return [change for change in self.changes if change.status is Status.PENDING]

    @property
    def blocked(self) -> list[Change]:
        return [change for change in self.changes if change.status is Status.BLOCKED]

    def was_blocked_before(self, change: Change) -> bool:
        return change.key in self.blocked_before

    @property
    def blocked_introduced(self) -> list[Change]:
        """The BLOCKED changes this plan's scope brings (all of them without a base revision)."""
        return [change for change in self.blocked if change.key not in self.blocked_before]

    def counted_summary(self) -> Summary:
        """The summary, with every count that the plan's own lists decide taken from them.

        The one place those counts are made: the planner stores them, the loader refuses a saved
        plan whose summary says otherwise, and every renderer shows them, so no summary can say
        "No changes" over a plan that holds some.
        """
        with_changes = {change.target for change in self.changes}
        unknown = {item.target for item in self.unknown}
        changed = len(with_changes - unknown)
        return replace(
            self.summary,
            targets_in_sync=self.summary.targets - changed - len(unknown),
            targets_with_changes=changed,
            changes_pending=len(self.pending),
            changes_blocked=len(self.blocked),
            unknown_targets=len(unknown),
            files_skipped=len(self.skipped),
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "kind": "plan",
            "format_version": self.format_version,
            "account_id": self.account_id,
            "created_at": self.created_at,
            "repo_commit": self.repo_commit,
            "repo_path": self.repo_path,
            "repo_files": dict(sorted(self.repo_files.items())),
            "summary": asdict(self.counted_summary()),
            "changes": [change.to_json() for change in self.changes],
            # A plan loaded from format 2 is written as it was read, so its checksum holds.
            "requests": [request.to_json(self.format_version) for request in self.requests],
            "unknown": [unknown.to_json() for unknown in self.unknown],
            "below_changes": [target.to_json() for target in self.below_changes],
            "skipped": [diagnostic_json(item) for item in self.skipped],
            "policy": {
                "findings": [finding.to_json() for finding in self.findings],
                "left": self.findings_left,
                "weakening": [item.to_json() for item in self.weakening],
            },
            "refusals": [refusal.to_json() for refusal in self.refusals],
            "blocked_before": [
                change.to_json() for change in self.blocked if self.was_blocked_before(change)
            ],
        }

    def to_json(self) -> dict[str, Any]:
        body = self.body_json()
        return {**body, "checksum": checksum(body)}


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def _ref(data: dict[str, Any]) -> TargetRef:
    kind = data["kind"]
    if kind not in KIND_ORDER or not isinstance(data["id"], str):
        raise PlanFileError(f"not a target: {kind!r} {data['id']!r}")
    return TargetRef(kind, data["id"], data.get("email"), data.get("name"))


def _family(option: Any, locks: bool) -> Family:
    try:
        family = family_of_option(option)
    except ValueError as exc:
        raise PlanFileError(str(exc)) from exc
    if locks and family not in LOCK_FAMILIES:
        raise PlanFileError(f"lock settings have no option family {option!r}")
    return family


def _writes(locks: Any) -> Writes:
    return Writes.LOCKS if locks is True else Writes.SETTINGS


def _change(data: dict[str, Any]) -> Change:
    before = data["before"] if data.get("before_known", True) else MISSING
    locks = data.get("locks", False)
    return Change(
        _ref(data["target"]),
        _family(data["option"], locks),
        tuple(data["path"]),
        before,
        data["after"],
        data["source"],
        Status(data["status"]),
        data.get("reason"),
        _writes(locks),
    )


def _request(data: dict[str, Any], version: int) -> Request:
    if version >= 3:
        writes = Writes(data["writes"])
    else:  # format 2 said it by the path alone, which is checked against the typed fields below
        writes = _writes(str(data["path"]).endswith("/lock_settings"))
    request = Request(
        _ref(data["target"]),
        _family(data["option"], writes is Writes.LOCKS),
        writes,
        data["body"],
        tuple(tuple(path) for path in data.get("fields", [])),
    )
    written = (data["method"], data["path"], data["query"])
    if written != (request.method, request.path, request.query):
        raise PlanRefused(
            f"the plan's request {data['method']} {data['path']} is not the PATCH of "
            f"{request.target.label}'s {request.family} settings: plan again"
        )
    return request


EDITED = "it was edited; plan again"


def plan_from_json(data: Any) -> Plan:
    """A Plan from its saved JSON.

    A file that is no plan of this format version cannot be read (PlanFileError, exit 1). One
    of this version whose checksum, content or summary does not hold was edited, and is refused
    (PlanRefused, exit 3): with its checksum recomputed, a summary of 0 changes over 82 would
    print "No changes" and apply them.
    """
    if not isinstance(data, dict):
        raise PlanFileError("not a reconciler plan (the file holds no JSON object)")
    if data.get("kind", "plan") != "plan":
        raise PlanFileError(f"not a plan but a {str(data.get('kind'))[:40]!r} report")
    if isinstance(data.get("error"), dict):
        raise PlanFileError("the plan run that wrote it failed, so it holds no plan; plan again")
    version = data.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        readable = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise PlanFileError(f"plan format {version!r} is not {readable}; plan again")
    body = {key: value for key, value in data.items() if key != "checksum"}
    if data.get("checksum") != checksum(body):
        raise PlanRefused(f"the plan's checksum does not match its content: {EDITED}")
    try:
        plan = _plan(data, version)
    except (PlanFileError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        # Its checksum matched, so whoever edited it computed a new one.
        raise PlanRefused(f"the plan is not one reconciler wrote ({_what(exc)}): {EDITED}") from exc
    _check_summary(plan)
    return plan


def _what(exc: Exception) -> str:
    if isinstance(exc, PlanFileError):
        return exc.message
    return f"no {exc}" if isinstance(exc, KeyError) else "a field of the wrong type"


def _plan(data: dict[str, Any], version: int) -> Plan:
    return Plan(
        format_version=version,
        changes=[_change(item) for item in data["changes"]],
        requests=[_request(item, version) for item in data["requests"]],
        unknown=[Unknown(_ref(u["target"]), u["option"], u["error"]) for u in data["unknown"]],
        summary=_summary(data["summary"]),
        repo_commit=_optional_text(data.get("repo_commit")),
        repo_path=str(data.get("repo_path", "")),
        account_id=_optional_text(data.get("account_id")),
        created_at=_optional_text(data.get("created_at")),
        repo_files={str(k): str(v) for k, v in dict(data.get("repo_files") or {}).items()},
        below_changes=[_ref(item) for item in data.get("below_changes") or []],
        skipped=[diagnostic_from_json(item) for item in data.get("skipped") or []],
        findings=[_finding(item) for item in (data.get("policy") or {}).get("findings") or []],
        refusals=[_refusal(item) for item in data.get("refusals") or []],
        blocked_before={_change(item).key for item in data.get("blocked_before") or []},
    )


def _refusal(data: dict[str, Any]) -> Refusal:
    return Refusal(str(data["code"]), str(data["reason"]))


def _summary(data: dict[str, Any]) -> Summary:
    summary = Summary(**data)
    if not all(type(count) is int and count >= 0 for count in asdict(summary).values()):
        raise PlanFileError("a summary count that is not a whole number")
    return summary


def _check_summary(plan: Plan) -> None:
    """The summary is what the plan's changes count, or the plan was edited."""
    said, counted = asdict(plan.summary), asdict(plan.counted_summary())
    differs = [
        f"{key} {said[key]}, its changes make {counted[key]}"
        for key in said
        if said[key] != counted[key]
    ]
    if differs:
        shown = "; ".join(differs[:3])
        raise PlanRefused(f"the plan's summary does not match its changes ({shown}): {EDITED}")


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(
        _ref(data["target"]),
        str(data["rule"]),
        str(data["title"]),
        str(data["severity"]),
        FindingState(data["state"]),
    )


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise PlanFileError(f"expected a string, got {type(value).__name__}")


# Plans are JSON of at most this many bytes (a 50,000-user plan is a few tens of MB).
MAX_PLAN_BYTES = 512 * 1024 * 1024


def load_plan(path: Path) -> Plan:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PlanFileError(f"cannot read the saved plan: {reason}", file=str(path)) from exc
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanFileError("the saved plan is larger than any plan could be", file=str(path))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise PlanFileError("the saved plan is not JSON", file=str(path)) from exc
    try:
        plan = plan_from_json(data)
    except PlanFileError as error:
        raise PlanFileError(error.message, file=str(path)) from None
    except PlanRefused as refused:
        raise PlanRefused(refused.message, file=str(path), reason=refused.reason) from None
    plan.file = str(path)
    return plan
