from __future__ import annotations

import io
import re
from typing import Any

from reconciler.diagnostic import Diagnostic, Severity
from reconciler.plan.model import Plan
from reconciler.render import markdown
from reconciler.render.markdown import COMMENT_LIMIT, MAX_SKIPPED_SHOWN, code, escape
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


def _skipped(count: int) -> list[Diagnostic]:
    return [
        Diagnostic(
            "user-not-active",
            Severity.WARNING,
            f"user: Zoom has no user gone{index:02d}@acme.test",
            hint="remove the file if the user left; skipped",
            file=f"users/gone{index:02d}@acme.test.yaml",
            line=1,
            col=1,
        )
        for index in range(count)
    ]


def test_the_comment_names_each_skipped_file_and_why() -> None:
    plan = in_sync_plan()
    plan.skipped = _skipped(2)
    lines = rendered(plan).splitlines()
    assert "Files skipped (their user is not active in Zoom; see the warnings): 2<br>" in lines
    heading = lines.index("**Skipped files:**")
    assert lines[heading - 1 : heading + 3] == [
        "",
        "**Skipped files:**",
        "- `users/gone00@acme.test.yaml:1:1`: user: Zoom has no user gone00@acme.test (remove "
        "the file if the user left; skipped)",
        "- `users/gone01@acme.test.yaml:1:1`: user: Zoom has no user gone01@acme.test (remove "
        "the file if the user left; skipped)",
    ]


def test_skipped_files_past_the_cap_are_counted() -> None:
    plan = in_sync_plan()
    plan.skipped = _skipped(MAX_SKIPPED_SHOWN + 3)
    output = rendered(plan)
    assert output.count("`: user: Zoom has no user ") == MAX_SKIPPED_SHOWN
    assert "\n- and 3 more files (the JSON plan artifact lists all)\n" in output
    assert "gone22@acme.test" not in output
