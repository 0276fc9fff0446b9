"""The applier refuses a plan whose requests carry anything but its pending changes."""

from __future__ import annotations

import pytest

from reconciler.apply.engine import pending_changes
from reconciler.errors import PlanRefused
from reconciler.plan.model import Change, Plan, Request, Status, Writes
from reconciler.targets import TargetRef

USER = TargetRef("user", "u1", email="u1@example.test")


def change(path: tuple[str, ...], status: str = "pending") -> Change:
    source = "users/u1@example.test.yaml:3:5"
    return Change(USER, "general", path, True, False, source, Status(status))


def test_a_plan_whose_request_carries_a_blocked_change_is_refused() -> None:
    body = {"in_meeting": {"chat": False, "polling": True}}
    fields = (("in_meeting", "chat"), ("in_meeting", "polling"))
    plan = Plan(
        changes=[change(("in_meeting", "chat")), change(("in_meeting", "polling"), "blocked")],
        requests=[Request(USER, "general", Writes.SETTINGS, body, fields)],
    )
    with pytest.raises(PlanRefused) as refused:
        pending_changes(plan)
    assert str(refused.value) == (
        "the plan's request PATCH /users/u1/settings carries in_meeting.polling, "
        "which is not a pending change: it was edited; plan again"
    )
    plan.changes[1] = change(("in_meeting", "polling"))
    assert len(pending_changes(plan)) == 2
