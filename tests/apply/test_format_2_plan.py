"""A plan saved in format 2 (no `writes` in its requests) by the version before still applies:
the same PATCHes, each read again before it is sent, and the repo converges."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.plan.model import checksum
from tests.apply.conftest import Served, reconciler
from tests.apply.test_cli import SENT, family_calls, patches, plan_is_empty, repo, save_plan

__all__ = ["repo"]  # the fixture, shared with test_cli


def test_a_format_2_plan_applies_as_format_3_does(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    data = json.loads(saved.read_text())
    assert data["format_version"] == 3
    data["format_version"] = 2
    for request in data["requests"]:
        del request["writes"]
    body = {key: value for key, value in data.items() if key != "checksum"}
    saved.write_text(json.dumps({**body, "checksum": checksum(body)}))
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 0, done.output
    assert patches(served) == SENT
    for path, option, _ in SENT:
        assert family_calls(served, path, option) == ["GET", "PATCH", "GET"]
    assert plan_is_empty(repo)
