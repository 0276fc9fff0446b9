"""The Plan: ordered, serialisable, checksummed data that a reviewer approves and apply executes.

Changes are ordered account, groups (by name), users (by email); within a target by family
(Zoom's order) and then by the order of the keys in the desired document. `requests` are exactly
what apply would send. The checksum is a sha256 over the canonical JSON of everything else, so a
saved plan that was edited is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from reconciler.errors import PlanFileError
from reconciler.plan.diff import MISSING

FORMAT_VERSION = 1
TargetKind = Literal["account", "group", "user"]
ChangeStatus = Literal["pending", "blocked"]
KIND_ORDER: dict[str, int] = {"account": 0, "group": 1, "user": 2}


@dataclass(frozen=True, order=True)
class TargetRef:
    kind: TargetKind
    id: str
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "account":
            return "account"
        return f"{self.kind} {self.email or self.name or self.id}"

    def sort_key(self) -> tuple[int, str]:
        return KIND_ORDER[self.kind], (self.email or self.name or self.id).lower()


@dataclass(frozen=True)
class Change:
    target: TargetRef
    option: str | None
    path: tuple[str, ...]
    before: Any
    after: Any
    source: str
    status: ChangeStatus = "pending"
    reason: str | None = None
    locks: bool = False  # a change to lock settings, not to settings

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = list(self.path)
        data["before_known"] = self.before is not MISSING
        data["before"] = None if self.before is MISSING else self.before
        return data


@dataclass(frozen=True)
class Request:
    target: TargetRef
    option: str | None
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    # The changed leaves this body carries (repo shape), for compare-and-set and verification.
    fields: tuple[tuple[str, ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = [list(path) for path in self.fields]
        return data


@dataclass(frozen=True)
class Unknown:
    target: TargetRef
    option: str | None
    error: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


@dataclass(repr=False)
class Plan:
    changes: list[Change] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    repo_commit: str | None = None
    repo_path: str = ""
    format_version: int = FORMAT_VERSION

    def __repr__(self) -> str:
        # Short on purpose: asyncio reprs a finished task's result, and a full repr of a plan
        # for 20,000 users is a string of tens of megabytes.
        return (
            f"Plan({len(self.changes)} changes, {len(self.requests)} requests, "
            f"{len(self.unknown)} unknown)"
        )

    @property
    def pending(self) -> list[Change]:
        return [change for change in self.changes if change.status == "pending"]

    @property
    def blocked(self) -> list[Change]:
        return [change for change in self.changes if change.status == "blocked"]

    def body_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "repo_commit": self.repo_commit,
            "repo_path": self.repo_path,
            "summary": asdict(self.summary),
            "changes": [change.to_json() for change in self.changes],
            "requests": [request.to_json() for request in self.requests],
            "unknown": [unknown.to_json() for unknown in self.unknown],
        }

    def to_json(self) -> dict[str, Any]:
        body = self.body_json()
        return {**body, "checksum": checksum(body)}


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def _ref(data: dict[str, Any]) -> TargetRef:
    return TargetRef(data["kind"], data["id"], data.get("email"), data.get("name"))


def _change(data: dict[str, Any]) -> Change:
    before = data["before"] if data.get("before_known", True) else MISSING
    return Change(
        _ref(data["target"]),
        data["option"],
        tuple(data["path"]),
        before,
        data["after"],
        data["source"],
        data["status"],
        data.get("reason"),
        data.get("locks", False),
    )


def _request(data: dict[str, Any]) -> Request:
    return Request(
        _ref(data["target"]),
        data["option"],
        data["method"],
        data["path"],
        data["query"],
        data["body"],
        tuple(tuple(path) for path in data.get("fields", [])),
    )


def plan_from_json(data: dict[str, Any]) -> Plan:
    """A Plan from its saved JSON, refusing another format version or a wrong checksum."""
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(
            f"plan format {data.get('format_version')!r} is not {FORMAT_VERSION}; plan again"
        )
    body = {key: value for key, value in data.items() if key != "checksum"}
    if data.get("checksum") != checksum(body):
        raise PlanFileError("the plan's checksum does not match its content: it was edited")
    return Plan(
        changes=[_change(item) for item in data["changes"]],
        requests=[_request(item) for item in data["requests"]],
        unknown=[Unknown(_ref(u["target"]), u["option"], u["error"]) for u in data["unknown"]],
        summary=Summary(**data["summary"]),
        repo_commit=data.get("repo_commit"),
        repo_path=data.get("repo_path", ""),
    )


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanFileError(f"cannot read the saved plan: {exc}", file=str(path)) from exc
    try:
        return plan_from_json(data)
    except (KeyError, TypeError) as exc:
        raise PlanFileError(f"not a reconciler plan (missing {exc})", file=str(path)) from exc
