"""The finding store's compact columns give back exactly the findings put in: objects and failed
rules interleaved, targets out of order, live values that compare equal but are not the same
JSON (`1` and `true`, `0.0` and `-0.0`), and places and messages shared between findings."""

from __future__ import annotations

import json
from typing import Any

from reconciler.audit.model import (
    AuditFinding,
    AuditTarget,
    FindingKind,
    FindingStatus,
    FindingStore,
    Where,
    light,
)
from reconciler.diff import MISSING
from reconciler.policy import Rule, parse_pack
from reconciler.targets import TargetRef

PACK = """\
pack: p
title: P
rules:
  - {id: chat, title: Chat, severity: low, rationale: R, levels: [user],
     expr: "settings.in_meeting.chat == false"}
  - {id: length, title: Length, severity: high, rationale: R, levels: [user],
     expr: "meeting_security.meeting_password_requirement.length >= 8"}
"""


def _rules() -> list[Rule]:
    pack, problems = parse_pack("p.yaml", PACK.encode(), expected_name="p")
    assert problems == [] and pack is not None
    return list(pack.rules)


def _first_field(rule: Rule) -> tuple[str, str, Any]:
    return ("settings", "in_meeting.chat", False) if rule.id == "chat" else ("x", "y", MISSING)


def _drift(target: AuditTarget, line: int) -> AuditFinding:
    # A new Where and message each time, equal to the ones before: what the engine makes.
    where = Where("defaults.yaml", line, 3)
    message = "".join(["Zoom has false, ", str(where), " asks for true"])
    return AuditFinding(
        FindingKind.DRIFT, FindingStatus.DRIFT, target, "meeting_security", "waiting_room",
        message, where, actual=False, expected=True,
    )  # fmt: skip


def test_the_store_gives_back_every_finding_as_it_was_put_in() -> None:
    targets = [AuditTarget(TargetRef("user", f"u{n}", email=f"u{n}@a.test")) for n in range(4)]
    rules = _rules()
    store = FindingStore(targets, rules, [], _first_field)
    rule_where = Where("p.yaml", 5, 1, in_repo=False, sets_value=False)
    store.add_rule_failure(2, 0, rule_where, True, None)
    store.add(_drift(targets[2], 1))
    store.add_rule_failure(2, 1, rule_where, 1, None)  # 1, not true
    store.add_rule_failure(0, 0, rule_where, -0.0, None)  # back to an earlier target
    store.add(_drift(targets[0], 1))
    store.add_rule_failure(3, 1, Where("users/u3.yaml", 2), 0.0, None)
    store.add_rule_failure(3, 0, rule_where, {"a": [1]}, None)
    found = list(store)
    assert len(store) == len(found) == 7
    assert [(f.kind.value, f.target.ref.id, f.rule_code) for f in found] == [
        ("policy", "u2", "p/chat"), ("drift", "u2", None), ("policy", "u2", "p/length"),
        ("policy", "u0", "p/chat"), ("drift", "u0", None), ("policy", "u3", "p/length"),
        ("policy", "u3", "p/chat"),
    ]  # fmt: skip
    actual = [json.dumps(f.actual) for f in found if f.kind is FindingKind.POLICY]
    assert actual == ["true", "1", "-0.0", "0.0", '{"a": [1]}']
    assert [str(f.where) for f in found] == [
        "p.yaml:5", "defaults.yaml:1", "p.yaml:5", "p.yaml:5", "defaults.yaml:1",
        "users/u3.yaml:2", "p.yaml:5",
    ]  # fmt: skip
    assert [store[at] for at in range(-7, 0)] == found
    assert [(item.target.ref.id, item.rule_code) for item in light(store)] == [
        (f.target.ref.id, f.rule_code) for f in found
    ]
    drift_a, drift_b = found[1], found[4]
    assert drift_a.message == "Zoom has false, defaults.yaml:1 asks for true"
    assert drift_a.message is drift_b.message and drift_a.where is drift_b.where  # kept once
