from __future__ import annotations

import io

import pytest

from reconciler.render import RENDERERS, render
from tests.render.plans import sample_plan


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_render_dispatches_and_takes_the_shared_options(fmt: str) -> None:
    via_dispatch, direct = io.StringIO(), io.StringIO()
    render(sample_plan(), via_dispatch, fmt, color=False)
    RENDERERS[fmt](sample_plan(), direct)
    assert via_dispatch.getvalue() == direct.getvalue() != ""


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of text, markdown, json"):
        render(sample_plan(), io.StringIO(), "yaml")
