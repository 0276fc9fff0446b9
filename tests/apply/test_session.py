"""One session per command: `apply` without `--plan` plans and applies on one client (one token,
one pacer), and the safety limits hold for any caller of `run_apply`, not only the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.apply.run import ApplySettings, check_plan, run_apply
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.errors import UnsafePlan
from reconciler.plan.run import make_plan
from reconciler.sandbox import SandboxConfig, acme_tenant
from tests.apply.conftest import Served, reconciler, serving
from tests.apply.repos import write_repo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
# Zoom's MEDIUM label at 5 requests/s: far below the Business rate the example repo names, so
# a client that starts again at full speed meets 429s at once.
SLOW = SandboxConfig().with_changes({"rate_limits": {"MEDIUM": 5.0}})


def _example(tmp_path: Path) -> Path:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    return repo


def test_apply_without_a_plan_uses_one_token_and_one_pacer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = _example(tmp_path)
    with serving(monkeypatch, acme_tenant(), SLOW) as served:
        served.forget()  # the other admin's token
        done = reconciler("apply", repo, "--yes")
        served.settle()
        journal = served.app.sandbox.journal.entries()
    assert done.exit_code == 0, done.output  # its BLOCKED changes are listed, not failed
    tokens = [e for e in journal if (e.method, e.path) == ("POST", "/oauth/token")]
    assert len(tokens) == 1
    calls = [e for e in journal if e.path.startswith("/v2/")]
    first_patch = next(i for i, e in enumerate(calls) if e.method == "PATCH")
    assert first_patch > 0 and all(e.method == "GET" for e in calls[:first_patch])
    # No 429 anywhere, so none at the switch from planning to applying either.
    assert [e.status for e in calls if e.status == 429] == []
    assert {e.status for e in calls if e.method == "PATCH"} == {204}


async def test_run_apply_refuses_a_plan_over_the_safety_limit(
    served: Served, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    files = {
        "reconciler.yaml": "safety:\n  max_changed_targets: 1\n",
        "users/alice@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
        "users/bob@acme.test.yaml": (
            "settings:\n  schedule_meeting:\n    participants_video: false\n"
        ),
    }
    write_repo(repo, files)
    state = load_repo(repo)
    audit_log = tmp_path / "audit.log"
    async with Connector().from_env().open(repo, tier=state.options.rate_tier) as session:
        plan = await make_plan(state, session)
        assert len({request.target for request in plan.requests}) == 2
        settings = ApplySettings(audit_log, "run-1", saved_plan=False)
        with pytest.raises(UnsafePlan) as refused:
            await run_apply(await check_plan(plan, state, session, settings), state, session)
        assert str(refused.value) == (
            "refusing an unsafe plan: 2 targets change, more than max_changed_targets (1). "
            "Check the plan, then apply with --force, or raise the `safety:` limits in "
            "reconciler.yaml"
        )
        assert served.patches() == []
        assert not audit_log.exists()
        forced = ApplySettings(audit_log, "run-2", saved_plan=False, force=True)
        report = await run_apply(await check_plan(plan, state, session, forced), state, session)
    assert len(report.targets("applied")) == 2
    assert len(served.patches()) == 2
