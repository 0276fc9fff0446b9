from __future__ import annotations

import io
import re
from typing import Any

from reconciler.plan.model import Plan
from reconciler.render import markdown
from reconciler.render.markdown import COMMENT_LIMIT, code, escape
from tests.render.golden import assert_golden
from tests.render.plans import in_sync_plan, many_targets_plan, sample_plan


def rendered(plan: Plan, **options: Any) -> str:
    fh = io.StringIO()
    markdown.render(plan, fh, **options)
    return fh.getvalue()


def test_sample_plan() -> None:
    assert_golden("sample.md", rendered(sample_plan()))


def test_in_sync_plan() -> None:
    assert_golden("in-sync.md", rendered(in_sync_plan()))


def test_color_option_is_ignored() -> None:
    assert rendered(sample_plan(), color=True) == rendered(sample_plan())


def test_one_section_per_target_with_its_count() -> None:
    summaries = re.findall(r"<summary>(.*)</summary>", rendered(sample_plan()))
    assert summaries == [
        "account: 3 changes",
        "group Engineering: 4 changes",
        "user alice@acme.test: 3 changes",
        "user dave@acme.test: 1 blocked",
    ]


def test_code_span_escapes_pipes_and_outgrows_backticks() -> None:
    assert code("a|b") == "`a\\|b`"
    assert code("use `zoom`") == "`` use `zoom` ``"
    assert code("x``y") == "```x``y```"


def test_free_text_is_not_markdown() -> None:
    assert escape("a_b *c* <b>|</b>") == "a\\_b \\*c\\* \\<b\\>\\|\\</b\\>"


def test_many_targets_are_cut_at_the_comment_limit() -> None:
    output = rendered(many_targets_plan(3000))
    shown = output.count("<details>")
    assert len(output) <= COMMENT_LIMIT
    assert output.count("</details>") == shown
    assert 100 < shown < 3000
    assert output.endswith(
        f"**{3000 - shown} targets not shown (comment limit); run reconciler plan locally"
        " or see the JSON plan artifact.**\n"
    )


def test_every_shown_section_is_whole() -> None:
    output = rendered(many_targets_plan(3000))
    sections = re.findall(r"<details>.*?</details>", output, flags=re.DOTALL)
    assert len(sections) == output.count("<details>")
    assert all(section.count("\n| ") == 3 for section in sections)  # header and two changes


def test_unknown_targets_count_when_left_out() -> None:
    plan = sample_plan()
    output = rendered(plan, limit=len(rendered(plan)) - 1)
    assert output.endswith(
        "**1 target not shown (comment limit); run reconciler plan locally"
        " or see the JSON plan artifact.**\n"
    )
    assert output.count("<details>") == 3


def test_nothing_is_cut_when_it_fits() -> None:
    plan = sample_plan()
    assert "not shown" not in rendered(plan, limit=len(rendered(plan)))
