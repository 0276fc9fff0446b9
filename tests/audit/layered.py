"""An audit result whose failures come from layers, built directly (no Zoom), for the roll-up
tests of the report formats: one rule failing at the account and at the Sales group, users who
hold their layer's failing value, and users whose failure is their own."""

from __future__ import annotations

import dataclasses

from reconciler.audit.model import (
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    RuleOutcome,
    Where,
)
from reconciler.targets import TargetRef
from tests.audit.sample import sample

BASELINE = "zoom-security-baseline"
JOIN_BEFORE_HOST = f"{BASELINE}/zsb-join-before-host-off"
ENABLED = Where("reconciler.yaml", 2, 5)


def enabled_sample() -> AuditResult:
    """The sample, its pack enabled at reconciler.yaml line 2 (as an audit of a repo records)."""
    result = sample()
    result.packs = [dataclasses.replace(pack, enabled_at=ENABLED) for pack in result.packs]
    return result


def layered(loose: int = 2) -> AuditResult:
    """One rule (account, group and user levels) failing at the account and the Sales group:
    `loose` users with no group and three Sales users hold the failing value as their layer does;
    a Support user fails while Support passes; a Sales user fails where the repo sets it."""
    base = enabled_sample()
    rule = next(rule for rule in base.rules if rule.id == "zsb-join-before-host-off")
    account = AuditTarget(TargetRef("account", "me"))
    sales = AuditTarget(TargetRef("group", "g-sales", name="Sales"))
    support = AuditTarget(TargetRef("group", "g-support", name="Support"))
    no_group = [
        AuditTarget(TargetRef("user", f"u-a{n}", email=f"a{n}@acme.test"))
        for n in range(1, loose + 1)
    ]
    members = [
        AuditTarget(TargetRef("user", f"u-s{n}", email=f"s{n}@acme.test"), ("Sales", "Support"))
        for n in (1, 2, 3)
    ]
    helper = AuditTarget(TargetRef("user", "u-h", email="h@acme.test"), ("Support",))
    managed = AuditTarget(TargetRef("user", "u-m", email="m@acme.test"), ("Sales",), True)
    targets = [account, sales, support, *no_group, *members, helper, managed]
    rule_line = Where(rule.file, rule.line, 5, in_repo=False, sets_value=False)

    def failed(target: AuditTarget, where: Where = rule_line) -> AuditFinding:
        return AuditFinding(
            FindingKind.POLICY, FindingStatus.FAIL, target, "settings",
            "schedule_meeting.join_before_host", f"{rule.id} ({rule.title}) fails", where,
            actual=True, expected=False, rule=rule,
        )  # fmt: skip

    findings = [failed(account), failed(sales, Where("groups/sales.yaml", 4, 5))]
    findings += [failed(target) for target in [*no_group, *members, helper]]
    findings.append(failed(managed, Where("users/m@acme.test.yaml", 3, 3)))
    result = AuditResult(
        account_id="sandbox-account", tool_version="0.1.0", packs=base.packs, rules=[rule],
        targets=targets, findings=findings,
    )  # fmt: skip
    row = bytearray(RuleOutcome.FAIL for _ in targets)
    row[2] = RuleOutcome.PASS
    result.outcomes[JOIN_BEFORE_HOST] = row
    return result
