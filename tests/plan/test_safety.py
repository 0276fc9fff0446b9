"""The one judgement of what apply refuses without --force, on plans built by hand."""

from __future__ import annotations

from reconciler.desired.models import Safety
from reconciler.plan.model import Plan, Refusal, Request, Summary, Writes
from reconciler.plan.safety import refusals
from reconciler.targets import TargetRef


def plan_changing(users: int, *, planned: int, skipped_unchanged: int = 0) -> Plan:
    requests = [
        Request(
            TargetRef("user", f"id{n}", email=f"u{n}@acme.test"), "general", Writes.SETTINGS, {}
        )
        for n in range(users)
    ]
    summary = Summary(targets=planned, targets_skipped_unchanged=skipped_unchanged)
    return Plan(requests=requests, summary=summary)


def test_the_count_limit_names_itself_and_the_count() -> None:
    found = refusals(plan_changing(6, planned=6), Safety(max_changed_targets=5))
    assert found == [
        Refusal("max_changed_targets", "6 targets change, more than max_changed_targets (5)")
    ]


def test_the_share_limit_counts_the_targets_a_changed_since_plan_left_out() -> None:
    safety = Safety(max_changed_targets=100, max_changed_percent=30)
    alone = refusals(plan_changing(25, planned=25), safety)
    assert alone == [
        Refusal(
            "max_changed_percent",
            "100 % of 25 managed targets change, more than max_changed_percent (30 %)",
        )
    ]
    # The same 25 members of a changed profile, in a repo that manages 100 more targets.
    assert refusals(plan_changing(25, planned=25, skipped_unchanged=100), safety) == []


def test_no_share_limit_below_twenty_managed_targets() -> None:
    assert refusals(plan_changing(5, planned=5), Safety(max_changed_percent=10)) == []
