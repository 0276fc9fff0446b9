from __future__ import annotations

import io
import re
from typing import Any

from reconciler.plan.model import Plan
from reconciler.render import text
from tests.render.golden import assert_golden
from tests.render.plans import in_sync_plan, many_targets_plan, sample_plan


def rendered(plan: Plan, **options: Any) -> str:
    fh = io.StringIO()
    text.render(plan, fh, **options)
    return fh.getvalue()


def test_sample_plan() -> None:
    assert_golden("sample.txt", rendered(sample_plan()))


def test_sample_plan_in_color() -> None:
    assert_golden("sample-color.txt", rendered(sample_plan(), color=True))


def test_in_sync_plan_names_the_base_revision() -> None:
    assert_golden("in-sync.txt", rendered(in_sync_plan(), changed_since="origin/main"))


def test_no_escape_codes_without_color() -> None:
    assert "\x1b" not in rendered(sample_plan(), color=False)


def test_color_marks_each_kind_of_line() -> None:
    output = rendered(sample_plan(), color=True)
    assert "\x1b[33m~\x1b[0m in_meeting.chat" in output
    assert "\x1b[32m+\x1b[0m feature.meeting_capacity" in output
    assert "\x1b[31m!\x1b[0m in_meeting.screen_sharing" in output
    assert "\x1b[31mBLOCKED: locked by group Engineering" in output


def test_color_changes_nothing_but_escape_codes() -> None:
    colored = rendered(sample_plan(), color=True)
    plain = colored
    for code in ("\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[35m"):
        plain = plain.replace(code, "")
    assert plain == rendered(sample_plan())


def test_change_lines_spell_values_as_json() -> None:
    lines = rendered(sample_plan()).splitlines()
    assert any(
        re.fullmatch(
            r"  ~ in_meeting.waiting_room: false -> true +users/alice@acme.test.yaml:7:5", line
        )
        for line in lines
    )
    assert any(line.startswith("  + feature.meeting_capacity: (not set) -> 300 ") for line in lines)
    assert any('null -> "Use `zoom` | not \\"teams\\" — ünïcode"' in line for line in lines)


def test_sources_line_up_within_a_target() -> None:
    lines = rendered(sample_plan()).splitlines()
    start = lines.index("group Engineering") + 1
    columns = {line.index("groups/engineering.yaml") for line in lines[start : start + 4]}
    assert len(columns) == 1


def test_summary_line_counts_with_singulars() -> None:
    last = rendered(many_targets_plan(1)).splitlines()[-1]
    assert last == "Plan: 2 changes to 1 target, 0 blocked, 0 unknown; 0 targets in sync."


def test_groups_follow_plan_order() -> None:
    headers = [line for line in rendered(sample_plan()).splitlines() if line and line[0] != " "]
    assert headers[:4] == [
        "account",
        "group Engineering",
        "user alice@acme.test",
        "user dave@acme.test",
    ]
