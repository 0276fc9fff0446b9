"""`reconcile` is `apply` as a library call: it asks through its callbacks, returns what it did,
and sends nothing that its checks or its caller did not let through (the in-process sandbox's
journal is what Zoom saw)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.apply.run import (
    ApplyRequest,
    ApplySettings,
    CheckedPlan,
    GenuinePlan,
    SavedScope,
    check_plan,
    reconcile,
)
from reconciler.connect import Session
from reconciler.desired import load_repo
from reconciler.errors import AuditLogError, ReconcilerError, UnsafePlan
from reconciler.exitcodes import ExitCode, for_outcome
from reconciler.plan.model import Plan
from reconciler.plan.run import make_plan
from reconciler.sandbox import SandboxApp
from tests.plan.sandbox_repo import recording

EXAMPLE = Path(__file__).parents[2] / "examples" / "acme"


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    return repo


def patches(apps: list[SandboxApp]) -> list[str]:
    return [
        f"{entry.path}?{entry.query}"
        for app in apps
        for entry in app.sandbox.journal.entries()
        if entry.method == "PATCH"
    ]


class Asked:
    """The callbacks' record: each plan shown and each confirmation asked for."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.shown: list[tuple[Plan, SavedScope | None]] = []
        self.confirmed: list[Plan] = []

    def show(self, plan: Plan, scoped: SavedScope | None) -> None:
        self.shown.append((plan, scoped))

    def confirm(self, plan: Plan) -> bool:
        self.confirmed.append(plan)
        return self.answer


async def test_a_dry_run_shows_the_requests_and_what_would_be_refused_and_sends_nothing(
    acme: Path,
) -> None:
    state, apps, asked = load_repo(acme), [], Asked(True)
    async with recording(apps).open(acme, tier=state.options.rate_tier) as session:
        done = await reconcile(
            state, session, ApplyRequest(dry_run=True), confirm=asked.confirm, shown=asked.show
        )
    assert done.dry_run and done.report is None and not done.cancelled
    assert len(done.plan.requests) == 36
    assert [refusal.code for refusal in done.would_refuse or []] == []
    assert [shown for shown, _ in asked.shown] == [done.plan]
    assert asked.confirmed == []  # a dry run asks nobody
    assert patches(apps) == []
    assert not (acme / ".reconciler" / "audit.log").exists()
    assert for_outcome(done) is ExitCode.OK


async def test_no_at_the_confirmation_cancels_before_any_request(acme: Path) -> None:
    state, apps, asked = load_repo(acme), [], Asked(False)
    async with recording(apps).open(acme, tier=state.options.rate_tier) as session:
        done = await reconcile(
            state, session, ApplyRequest(force=True), confirm=asked.confirm, shown=asked.show
        )
    assert done.cancelled and done.report is None
    assert asked.confirmed == [done.plan]
    assert patches(apps) == []
    assert for_outcome(done) is ExitCode.REFUSED


async def test_yes_sends_each_request_of_the_plan_once_and_reports_it(acme: Path) -> None:
    state, apps, asked = load_repo(acme), [], Asked(True)
    async with recording(apps).open(acme, tier=state.options.rate_tier) as session:
        done = await reconcile(
            state, session, ApplyRequest(force=True), confirm=asked.confirm, shown=asked.show
        )
    assert done.report is not None and not done.cancelled
    assert len(asked.confirmed) == 1
    assert len(patches(apps)) == len(done.plan.requests) == 36
    assert len(done.report.targets("applied")) == len({r.target for r in done.plan.requests})
    assert (acme / ".reconciler" / "audit.log").exists()


async def test_an_unwritable_audit_log_refuses_before_a_session_is_opened(acme: Path) -> None:
    opened: list[bool] = []

    async def source() -> Session:
        opened.append(True)
        raise AssertionError("no session may be opened")

    request = ApplyRequest(audit_log=Path("/proc/audit.log"))
    with pytest.raises(AuditLogError) as refused:
        await reconcile(load_repo(acme), source, request, confirm=Asked(True).confirm)
    assert str(refused.value).startswith("cannot write the audit log /proc/audit.log")
    assert opened == []


def test_changed_since_with_a_saved_plan_is_refused_when_asked() -> None:
    with pytest.raises(ReconcilerError, match="--changed-since does not go with --plan"):
        ApplyRequest(plan_file=Path("plan.json"), changed_since="HEAD")


async def test_only_check_plan_makes_a_checked_plan_and_it_judges_the_safety_limits(
    acme: Path,
) -> None:
    options = (acme / "reconciler.yaml").read_text()
    (acme / "reconciler.yaml").write_text(
        options.replace("max_changed_targets: 50", "max_changed_targets: 1")
    )
    state = load_repo(acme)
    settings = ApplySettings(acme / "audit.log", "run-1", saved_plan=False)
    async with recording([]).open(acme, tier=state.options.rate_tier) as session:
        plan = await make_plan(state, session)
        with pytest.raises(TypeError, match="comes from check_plan"):
            CheckedPlan(plan, settings, object())
        with pytest.raises(TypeError, match="comes from check_saved"):
            GenuinePlan(plan, object())
        with pytest.raises(UnsafePlan, match="more than max_changed_targets"):
            await check_plan(plan, state, session, settings)
