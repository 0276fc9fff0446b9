from __future__ import annotations

import io
import json

import pytest

from reconciler.diff import MISSING
from reconciler.errors import PlanRefused
from reconciler.plan.model import plan_from_json
from reconciler.render import json as json_renderer
from tests.render.golden import assert_golden
from tests.render.plans import sample_plan


def rendered() -> str:
    fh = io.StringIO()
    json_renderer.render(sample_plan(), fh, color=True)
    return fh.getvalue()


def test_sample_plan() -> None:
    assert_golden("sample.json", rendered())


def test_round_trips_through_plan_from_json() -> None:
    loaded = plan_from_json(json.loads(rendered()))
    assert loaded == sample_plan()
    assert loaded.changes[2].before is MISSING


def test_keeps_plan_order() -> None:
    emails = [item["target"]["email"] for item in json.loads(rendered())["changes"]]
    assert emails == [None] * 7 + ["alice@acme.test"] * 3 + ["dave@acme.test"]


def test_an_edited_plan_is_refused() -> None:
    data = json.loads(rendered())
    data["changes"][0]["after"] = True
    with pytest.raises(PlanRefused, match="edited"):
        plan_from_json(data)
