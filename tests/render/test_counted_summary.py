"""A summary that says less than the plan holds is never shown: every renderer counts the
plan's own changes (one place, Plan.counted_summary), and a saved plan whose summary its
changes contradict does not load."""

from __future__ import annotations

import io
import json

import pytest

from reconciler.errors import PlanRefused
from reconciler.plan.model import Plan, Summary, checksum, plan_from_json
from reconciler.render import render
from reconciler.render.changes import NO_CHANGES
from tests.render.plans import sample_plan


def told_nothing() -> Plan:
    """The sample plan (10 pending, 1 blocked, 2 unknown) under a summary of no changes."""
    plan = sample_plan()
    plan.summary = Summary(targets=14, targets_in_sync=14)
    return plan


def shown(plan: Plan, fmt: str) -> str:
    fh = io.StringIO()
    render(plan, fh, fmt)
    return fh.getvalue()


@pytest.mark.parametrize("fmt", ["text", "markdown"])  # JSON: its counts, below
def test_no_renderer_says_no_changes_over_changes(fmt: str) -> None:
    assert NO_CHANGES not in shown(told_nothing(), fmt)


def test_the_counts_shown_are_the_changes() -> None:
    assert "Plan: 10 changes to 4 targets, 1 blocked, 2 unknown; 8 targets in sync." in shown(
        told_nothing(), "text"
    )
    assert "| 4 | 10 | 1 | 2 | 8 |" in shown(told_nothing(), "markdown")
    summary = json.loads(shown(told_nothing(), "json"))["summary"]
    assert (summary["changes_pending"], summary["targets_in_sync"]) == (10, 8)


def test_a_saved_plan_whose_summary_was_edited_does_not_load() -> None:
    data = sample_plan().to_json()
    data["summary"]["changes_pending"] = 0
    data["checksum"] = checksum({k: v for k, v in data.items() if k != "checksum"})
    with pytest.raises(PlanRefused) as refused:
        plan_from_json(data)
    assert str(refused.value) == (
        "the plan's summary does not match its changes (changes_pending 0, its changes make 10): "
        "it was edited; plan again"
    )


@pytest.mark.parametrize("count", ["10", 10.0, True, -1, None])
def test_a_summary_count_that_is_no_count_does_not_load(count: object) -> None:
    data = sample_plan().to_json()
    data["summary"]["targets"] = count
    data["checksum"] = checksum({k: v for k, v in data.items() if k != "checksum"})
    with pytest.raises(PlanRefused) as refused:
        plan_from_json(data)
    assert str(refused.value) == (
        "the plan is not one reconciler wrote (a summary count that is not a whole number): "
        "it was edited; plan again"
    )


def test_an_unedited_plan_loads_with_its_summary() -> None:
    assert plan_from_json(sample_plan().to_json()).summary == sample_plan().summary
