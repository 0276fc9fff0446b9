"""`.reconciler/rate.json`: the rate a probe proved for an account, resumed by the next run; a
file that is wrong in any way is as if it were not there."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.plan.run import make_plan, scope_for
from reconciler.zoom.config import DISCOVER
from reconciler.zoom.rate_memory import RATE_FILE, remember, resumed

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ACCOUNT = "acct-1"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"


def test_a_remembered_rate_is_resumed_within_the_probes_range(tmp_path: Path) -> None:
    path = tmp_path / RATE_FILE
    remember(path, ACCOUNT, 47.5, now=NOW)
    remember(path, "other", 90.0, now=NOW)
    assert resumed(DISCOVER, path, ACCOUNT, now=NOW).resume == 47.5
    assert resumed(DISCOVER, path, "other", now=NOW).resume == 60.0  # the ceiling caps it
    assert resumed(DISCOVER, path, "unknown", now=NOW) == DISCOVER
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["accounts"][ACCOUNT] == {
        "rate": 47.5,
        "proven_at": "2026-12-07T12:00:00+00:00",
    }


def entry(rate: object = 50, proven_at: object = "2026-12-07T11:00:00+00:00", v: int = 1) -> str:
    accounts = {ACCOUNT: {"rate": rate, "proven_at": proven_at}}
    return json.dumps({"format_version": v, "accounts": accounts})


WRONG = {
    "empty": "",
    "truncated": "{",
    "not-an-object": "[]",
    "other-version": entry(v=2),
    "accounts-not-a-map": '{"format_version": 1, "accounts": []}',
    "bool-rate": entry(rate=True),
    "negative": entry(rate=-5),
    "string-rate": entry(rate="50"),
    "infinite": entry(rate=1e999).replace("Infinity", "1e999"),
    "bad-date": entry(proven_at="yesterday"),
    "naive-date": entry(proven_at="2026-12-07T11:00:00"),
    "too-old": entry(proven_at="2026-10-01T11:00:00+00:00"),
    "future": entry(proven_at="2027-01-01T11:00:00+00:00"),
    "too-big": " " * (64 * 1024) + entry(),
}


@pytest.mark.parametrize("text", WRONG.values(), ids=WRONG.keys())
def test_a_file_wrong_in_any_way_is_as_if_it_were_not_there(tmp_path: Path, text: str) -> None:
    path = tmp_path / RATE_FILE
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    assert resumed(DISCOVER, path, ACCOUNT, now=NOW) == DISCOVER
    remember(path, ACCOUNT, 33.0, now=NOW)  # and the next run writes a good one over it
    assert resumed(DISCOVER, path, ACCOUNT, now=NOW).resume == 33.0


def test_a_second_run_starts_at_the_rate_the_first_proved(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)  # the built-in sandbox's tenant: a plan of some 70 requests
    state = load_repo(repo)

    async def plan_once() -> tuple[float | None, float | None]:
        async with Connector(sandbox=True).open(repo, tier=None) as session:
            first = session.zoom.rate
            await make_plan(state, session, scope_for(state, (), None))
            return first, session.zoom.proven_rate

    started, proven = asyncio.run(plan_once())
    assert started == DISCOVER.start
    assert proven is not None and proven > DISCOVER.start
    saved = json.loads((repo / RATE_FILE).read_text())["accounts"]
    assert [entry["rate"] for entry in saved.values()] == [round(proven, 2)]
    again, _ = asyncio.run(plan_once())
    assert again == round(proven, 2)
