"""A small audit result with one finding of every kind and status, built directly (no Zoom), for
the report formats' tests. `sample()` is the same value every call."""

from __future__ import annotations

from reconciler.audit.model import (
    Acknowledgement,
    AuditFinding,
    AuditResult,
    AuditTarget,
    FieldChange,
    FindingKind,
    FindingStatus,
    PackInfo,
    RuleOutcome,
    SinceReport,
    SnapshotInfo,
    Where,
)
from reconciler.policy import load_shipped
from reconciler.targets import TargetRef

ACCOUNT = AuditTarget(TargetRef("account", "me"), managed=True)
SALES = AuditTarget(TargetRef("group", "g-sales", name="Sales"), managed=True)
ALICE = AuditTarget(TargetRef("user", "u-alice", email="alice@acme.test"), ("Sales",), True)
BOB = AuditTarget(TargetRef("user", "u-bob", email="bob@acme.test"), ("Sales",))
# A user whose name would break a careless report: markup, quotes, a newline.
EVE = AuditTarget(TargetRef("user", "u-eve", email='eve<script>"x"@acme.test'), ())
GONE = AuditTarget(
    TargetRef("user", "u-gone", email="gone@acme.test"), (), unknown="404 user does not exist"
)
TARGETS = [ACCOUNT, SALES, ALICE, BOB, EVE, GONE]

ACK = Acknowledgement(
    "user:bob@acme.test", "zoom-security-baseline/zsb-user-keeps-waiting-room", None,
    "it-security@acme.test", "Bob runs the public webinar", "2099-12-31", "acknowledged.yaml", 3,
)  # fmt: skip
EXPIRED = Acknowledgement(
    "group:Sales", None, "settings.in_meeting.chat", "ops@acme.test", "pilot", "2020-01-31",
    "acknowledged.yaml", 9, expired=True,
)  # fmt: skip


def sample() -> AuditResult:
    pack = load_shipped("zoom-security-baseline")
    rules = {rule.id: rule for rule in pack.rules}
    waiting_room = rules["zsb-waiting-room"]
    user_waiting_room = rules["zsb-user-keeps-waiting-room"]
    lobby = rules["zsb-lobby-locked"]
    result = AuditResult(
        account_id="sandbox-account",
        started_at="2026-12-01T10:00:00+00:00",
        finished_at="2026-12-01T10:00:04+00:00",
        repo_path="examples/acme",
        repo_commit="0123456789abcdef0123456789abcdef01234567",
        tool_version="0.1.0",
        packs=[PackInfo(pack.name, pack.title, pack.file, "ab" * 32)],
        rules=list(pack.rules),
        targets=list(TARGETS),
        acknowledgements=[ACK, EXPIRED],
        requests_sent=17,
    )
    for rule in pack.rules:
        code = f"{rule.pack}/{rule.id}"
        row = bytearray(len(TARGETS))
        for index, target in enumerate(TARGETS):
            if target.ref.kind in rule.levels:
                row[index] = RuleOutcome.UNKNOWN if target.unknown else RuleOutcome.PASS
        result.outcomes[code] = row
    result.outcomes["zoom-security-baseline/zsb-waiting-room"][1] = RuleOutcome.FAIL
    result.outcomes["zoom-security-baseline/zsb-lobby-locked"][0] = RuleOutcome.NOT_APPLICABLE
    user_row = result.outcomes["zoom-security-baseline/zsb-user-keeps-waiting-room"]
    user_row[2], user_row[3], user_row[4] = (
        RuleOutcome.FAIL, RuleOutcome.ACKNOWLEDGED, RuleOutcome.UNKNOWN,
    )  # fmt: skip
    policy_where = Where(
        user_waiting_room.file, user_waiting_room.line, 5, in_repo=False, sets_value=False
    )
    result.findings = [
        AuditFinding(
            FindingKind.POLICY, FindingStatus.FAIL, SALES, "meeting_security", "waiting_room",
            f"{waiting_room.id} ({waiting_room.title}) fails: {waiting_room.rationale}",
            Where("groups/sales.yaml", 4, 5), actual=False, expected=True, rule=waiting_room,
        ),
        AuditFinding(
            FindingKind.DRIFT, FindingStatus.DRIFT, SALES, "settings", "in_meeting.chat",
            "Zoom has false, the repo asks for true", Where("groups/sales.yaml", 7, 7),
            actual=False, expected=True, acknowledged=None,
        ),
        AuditFinding(
            FindingKind.DRIFT, FindingStatus.DRIFT, ACCOUNT, "meeting_security", "waiting_room",
            "Zoom has false, the repo asks for true (lock)", Where("account.yaml", 12, 5),
            actual=False, expected=True, locks=True,
        ),
        AuditFinding(
            FindingKind.POLICY, FindingStatus.FAIL, ALICE, "meeting_security", "waiting_room",
            f"{user_waiting_room.id} ({user_waiting_room.title}) fails",
            Where("users/alice@acme.test.yaml", 3, 3), actual=False, expected=True,
            rule=user_waiting_room,
        ),
        AuditFinding(
            FindingKind.DRIFT, FindingStatus.DRIFT, ALICE, "meeting_security", "waiting_room",
            "Zoom has false, the repo asks for true", Where("users/alice@acme.test.yaml", 3, 3),
            actual=False, expected=True, locked_by="group Sales",
        ),
        AuditFinding(
            FindingKind.POLICY, FindingStatus.ACKNOWLEDGED, BOB, "meeting_security",
            "waiting_room", f"{user_waiting_room.id} ({user_waiting_room.title}) fails",
            policy_where, actual=False, rule=user_waiting_room, acknowledged=ACK,
        ),
        AuditFinding(
            FindingKind.POLICY, FindingStatus.UNKNOWN, EVE, "meeting_security", "waiting_room",
            "the rule could not be evaluated: no such key: waiting_room", policy_where,
            rule=user_waiting_room,
        ),
        AuditFinding(
            FindingKind.READ, FindingStatus.UNKNOWN, GONE, None, None,
            "the read failed: 404 user does not exist",
        ),
    ]  # fmt: skip
    del lobby
    result.drift_judged = {0: 1, 1: 1, 2: 1}
    result.since = SinceReport(
        "snapshots/earlier.jsonl.gz", "2026-11-30T10:00:00+00:00", targets_compared=6,
        targets_changed=1, added=["user new@acme.test"], removed=[],
        changes=[FieldChange("user bob@acme.test", "user:u-bob", "settings", "in_meeting.chat",
                             True, False)],
    )  # fmt: skip
    result.snapshot = SnapshotInfo(".reconciler/snapshots/x.jsonl.gz", "cd" * 32, "ef" * 32, 6)
    return result
