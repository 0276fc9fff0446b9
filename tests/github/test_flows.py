"""The three reusable workflows, step by step as Actions runs them (`tests/github/standin.py`),
against the sandbox and a stand-in GitHub API: one sticky comment across two pushes, annotations
on the right lines, a located and valid SARIF, one issue opened, updated and closed when clean,
a reconcile refused off the default branch, and the jobs' outcomes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import cli
from reconciler.sandbox import DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, running_sandbox
from tests.github.standin import TOKEN, JobRun, Store, event_file, run_job, served_github
from tests.plan.sandbox_repo import (
    commit_all,
    failing_reads,
    git,
    git_repo,
    open_app,
    prepare,
)

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXAMPLE = ROOT / "examples" / "acme"
SARIF_SCHEMA = ROOT.parent / "shared" / "sarif" / "sarif-schema-2.1.0.json"
REPOSITORY = "acme/zoom-settings"
ALICE = "users/alice@acme.test.yaml"
PLAN_FAILED = (
    "::error::the plan has BLOCKED changes, introduces a policy violation, or apply would refuse "
    "it (see the plan comment)"
)


def workspace(tmp: Path) -> Path:
    """examples/acme as a settings repo in git, beside a fresh Acme sandbox."""
    repo = tmp / "settings"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    git_repo(repo)
    commit_all(repo, "the settings")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    prepare(repo)
    return repo


def job(
    name: str,
    repo: Path,
    api: str,
    tmp: Path,
    *,
    ref: str = "refs/heads/main",
    event_name: str = "schedule",
    pr: int | None = None,
    extra: str = "--sandbox",
    secrets: dict[str, str] | None = None,
    zoom: str | None = None,
) -> JobRun:
    """Run workflow `name`; `zoom`: a served sandbox's URL to reach instead of --sandbox."""
    temp = tmp / f"runner-{name}-{len(list(tmp.glob(f'runner-{name}-*')))}"
    temp.mkdir()
    event: dict[str, Any] = {"repository": {"default_branch": "main"}}
    if pr is not None:
        event["pull_request"] = {"number": pr}
    github = {
        "token": TOKEN,
        "event_name": event_name,
        "base_ref": "main" if pr is not None else "",
        "ref": ref,
        "repository": REPOSITORY,
        "event": event,
    }
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": ref,
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_file(temp, event)),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
    }
    if zoom is not None:
        env |= {"ZOOM_API_URL": f"{zoom}/v2", "ZOOM_OAUTH_URL": f"{zoom}/oauth/token"}
    return run_job(
        WORKFLOWS / f"{name}.yml",
        workspace=repo,
        inputs={"path": ".", "extra-args": extra},
        github=github,
        env=env,
        runner_temp=temp,
        secrets=secrets,
    )


def open_issues(store: Store) -> list[dict[str, Any]]:
    return [issue for issue in store.issues if issue["state"] == "open"]


def push(repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    commit_all(repo, f"change {name}")


def test_plan_keeps_one_comment_updated_across_pushes(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        push(repo, ALICE, "settings:\n  in_meeting:\n    polling: false\n")
        first = job("plan", repo, api, tmp_path, event_name="pull_request", pr=7)
        assert not first.failed, first.output
        assert len(store.comments[7]) == 1
        body = store.comments[7][0]["body"]
        assert body.startswith("<!-- reconciler:plan:. -->\n### reconciler plan")
        assert "user alice@acme.test" in body and "polling" in body
        push(repo, ALICE, "settings:\n  in_meeting:\n    polling: false\n    chat: false\n")
        second = job("plan", repo, api, tmp_path, event_name="pull_request", pr=7)
        assert not second.failed, second.output
        assert len(store.comments[7]) == 1  # updated in place, never a second comment
        assert store.comments[7][0]["body"] != body and "chat" in store.comments[7][0]["body"]
        assert store.calls.count("POST /repos/acme/zoom-settings/issues/7/comments") == 1
        assert store.calls.count("PATCH /repos/acme/zoom-settings/issues/comments/1001") == 1
        assert TOKEN not in first.output + second.output
        summary = (tmp_path / "runner-plan-0" / "step_summary.md").read_text()
        assert "### reconciler plan" in summary


def test_plan_annotates_a_broken_file_and_fails_before_planning(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        push(repo, ALICE, "settings:\n  in_meeting:\n    polling: maybe\n")
        run = job("plan", repo, api, tmp_path, event_name="pull_request", pr=7)
    assert run.failed
    validate = run.step("Validate")
    assert validate.code == 1
    assert f"::error file={ALICE},line=3,col=14::" in validate.stdout
    assert not run.step("plan").ran
    assert store.comments == {}


def test_plan_fails_on_a_violation_the_pull_request_introduces(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        push(repo, ALICE, "meeting_security:\n  waiting_room: false\n")
        run = job("plan", repo, api, tmp_path, event_name="pull_request", pr=9)
    assert run.failed
    last = run.steps[-1]
    assert last.code == 1
    assert PLAN_FAILED in last.stdout
    assert len(store.comments[9]) == 1  # the plan is still posted, so the author sees why


def test_the_plan_comment_names_the_files_it_skipped(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        push(repo, "users/nobody@acme.test.yaml", "settings:\n  in_meeting:\n    chat: false\n")
        run = job("plan", repo, api, tmp_path, event_name="pull_request", pr=8)
    body = store.comments[8][0]["body"]
    assert "Files skipped (their user is not active in Zoom; see the warnings): 1" in body
    assert (
        "**Skipped files:**\n- `users/nobody@acme.test.yaml:1:1`: user: Zoom has no user "
        "nobody@acme.test (check the spelling, or remove the file if the user left; skipped)\n"
    ) in body
    assert "::warning file=users/nobody@acme.test.yaml,line=1,col=1::" in run.output


def limits_on_main(repo: Path, max_changed_targets: int) -> None:
    """The example's reconciler.yaml with another `max_changed_targets`, merged on main."""
    options = repo / "reconciler.yaml"
    text = options.read_text().replace(
        "max_changed_targets: 50", f"max_changed_targets: {max_changed_targets}"
    )
    push(
        repo, "reconciler.yaml", text.replace("max_changed_percent: 25", "max_changed_percent: 100")
    )
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")


# Chat off for every user who does not set it: a defaults change reaches everyone.
CHAT_OFF_BY_DEFAULT = ("    chat: true\n", "    chat: false\n")


def test_plan_fails_a_defaults_change_over_max_changed_targets_naming_the_limit(
    tmp_path: Path,
) -> None:
    repo = workspace(tmp_path)
    limits_on_main(repo, 5)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        defaults = (repo / "defaults.yaml").read_text().replace(*CHAT_OFF_BY_DEFAULT)
        push(repo, "defaults.yaml", defaults)
        run = job("plan", repo, api, tmp_path, event_name="pull_request", pr=11)
    assert run.failed
    assert run.step("plan").code == 0  # the plan was made and posted; the last step fails
    last = run.steps[-1]
    assert last.code == 1 and PLAN_FAILED in last.stdout
    plan = json.loads((tmp_path / "runner-plan-0" / "plan.json").read_text())
    changed = len({request["target"]["id"] for request in plan["requests"]})
    assert changed > 5
    assert plan["refusals"] == [
        {
            "code": "max_changed_targets",
            "reason": f"{changed} targets change, more than max_changed_targets (5)",
        }
    ]
    body = store.comments[11][0]["body"]
    assert (
        "> **Apply will refuse this plan without --force:**\n>\n"
        f"> - `max_changed_targets`: {changed} targets change, more than "
        "max\\_changed\\_targets (5)\n"
    ) in body


def test_plan_passes_a_pull_request_over_blocked_changes_it_did_not_bring(
    tmp_path: Path,
) -> None:
    repo = workspace(tmp_path)
    limits_on_main(repo, 100)
    git(repo, "checkout", "-q", "-b", "pr")
    with served_github() as (store, api):
        defaults = (repo / "defaults.yaml").read_text().replace(*CHAT_OFF_BY_DEFAULT)
        push(repo, "defaults.yaml", defaults)
        run = job("plan", repo, api, tmp_path, event_name="pull_request", pr=12)
    assert not run.failed, run.output
    assert run.step("plan").code == 0
    plan = json.loads((tmp_path / "runner-plan-0" / "plan.json").read_text())
    assert plan["summary"]["changes_blocked"] == 3 and len(plan["blocked_before"]) == 3
    body = store.comments[12][0]["body"]
    assert (
        "BLOCKED at " in body and "too (pre-existing; they do not fail this plan): 3 of 3" in body
    )
    assert body.count("(pre-existing):") == 3


def test_reconcile_refuses_any_ref_but_the_default_branch(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    with served_github() as (store, api):
        run = job("reconcile", repo, api, tmp_path, ref="refs/heads/feature", event_name="push")
    assert run.failed
    assert run.steps[0].code == 1
    assert "::error::reconcile applies main only, not refs/heads/feature" in run.steps[0].stdout
    assert not run.step("apply").ran
    assert store.calls == []


def test_reconcile_opens_one_issue_for_blocked_changes_and_closes_it_when_clean(
    tmp_path: Path,
) -> None:
    repo = workspace(tmp_path)
    with served_github() as (store, api):
        first = job("reconcile", repo, api, tmp_path)
        assert not first.failed, first.output  # BLOCKED changes are the issue's, not a failure
        assert [i["title"] for i in open_issues(store)] == ["Zoom reconciliation needs attention"]
        summary = (tmp_path / "runner-reconcile-0" / "step_summary.md").read_text().splitlines()
        assert summary[0] == "### reconciler apply"
        assert summary[2:4] == [
            "| exit | changes | blocked | not applied | drift | violations | unknown |",
            "|---|---|---|---|---|---|---|",
        ]
        assert len(summary) == 5
        assert summary[4].startswith("| 0 | ") and "| 3 | 0 |" in summary[4]
        assert "blocked: 3" in open_issues(store)[0]["body"]
        second = job("reconcile", repo, api, tmp_path)
        assert not second.failed, second.output
        assert len(store.issues) == 1 and len(open_issues(store)) == 1  # updated, not duplicated
        for path in repo.iterdir():
            if path.name not in (".git", ".reconciler", ".gitignore"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        (repo / "users").mkdir()
        push(repo, ALICE, "settings:\n  in_meeting:\n    polling: true\n")
        third = job("reconcile", repo, api, tmp_path)
        assert not third.failed, third.output
    assert open_issues(store) == []
    assert store.issues[0]["state"] == "closed"
    closing = store.comments[store.issues[0]["number"]]
    assert [c["body"] for c in closing] == [
        "The run https://github.example/acme/zoom-settings/actions/runs/42 was clean; closing."
    ]


def test_reconcile_opens_the_issue_for_a_wrong_client_secret(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    wrong = {
        "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
        "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ZOOM_CLIENT_SECRET": "not-the-secret",
    }
    with served_github() as (store, api), running_sandbox(open_app(repo)) as zoom:
        run = job("reconcile", repo, api, tmp_path, extra="", secrets=wrong, zoom=zoom)
    assert run.failed
    assert run.step("apply").code == 0  # it wrote the report and the outputs
    report = json.loads((tmp_path / "runner-reconcile-0" / "apply.json").read_text())
    assert (report["kind"], report["error"]["code"]) == ("apply", "zoom_auth")
    [issue] = open_issues(store)
    body = issue["body"].splitlines()
    run_url = "https://github.example/acme/zoom-settings/actions/runs/42"
    assert body[1] == f"The run {run_url} needs attention (exit 1)."
    assert body[3].startswith("**The run failed** (zoom_auth): POST http://127.0.0.1:")
    assert "not-the-secret" not in issue["body"] and "not-the-secret" not in run.output
    assert "::error::apply did not finish" in run.step("Fail when the run did not finish").stdout


def test_reconcile_opens_the_issue_for_a_safety_refusal_naming_the_limit(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    settings = (repo / "reconciler.yaml").read_text()
    push(
        repo,
        "reconciler.yaml",
        settings.replace("max_changed_targets: 50", "max_changed_targets: 1"),
    )
    with served_github() as (store, api):
        run = job("reconcile", repo, api, tmp_path)
    assert not run.failed, run.output  # refused, not an error: the issue says why
    [issue] = open_issues(store)
    body = issue["body"]
    assert "needs attention (exit 3)." in body
    assert "**The run was refused** (unsafe_plan): refusing an unsafe plan:" in body
    assert "targets change, more than max\\_changed\\_targets (1)" in body
    assert "What to do: Check the plan, then apply with --force" in body
    patches = [e for e in open_app(repo).sandbox.journal.entries() if e.method == "PATCH"]
    assert patches == []


@pytest.mark.skipif(not SARIF_SCHEMA.is_file(), reason="needs ../shared/sarif beside the repo")
def test_audit_uploads_a_located_sarif_and_keeps_one_issue(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    with served_github() as (store, api):
        first = job("audit", repo, api, tmp_path)
        assert not first.failed, first.output  # drift and failures are reported, not fatal
        assert first.step("audit").code == 0
        sarif_path = tmp_path / "runner-audit-0" / "audit.sarif"
        sarif = json.loads(sarif_path.read_text())
        schema = json.loads(SARIF_SCHEMA.read_text())
        jsonschema.validators.validator_for(schema)(schema).validate(sarif)
        results = sarif["runs"][0]["results"]
        assert results
        for result in results:
            location = result["locations"][0]["physicalLocation"]
            uri = location["artifactLocation"]["uri"]
            if location["artifactLocation"]["uriBaseId"] == "REPO":
                assert (repo / uri.replace("%40", "@")).is_file(), uri
            assert location["region"]["startLine"] >= 1
        assert len(open_issues(store)) == 1
        assert "### reconciler audit" in open_issues(store)[0]["body"]
        second = job("audit", repo, api, tmp_path)
        assert not second.failed
        assert len(store.issues) == 1
        for path in repo.iterdir():
            if path.name not in (".git", ".reconciler", ".gitignore"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        (repo / "users").mkdir()
        push(repo, "users/grace@acme.test.yaml", "settings:\n  in_meeting:\n    polling: true\n")
        third = job("audit", repo, api, tmp_path, extra="--sandbox --users grace@acme.test")
        assert not third.failed, third.output
    assert open_issues(store) == []


def run_action(repo: Path, temp: Path, **inputs: str) -> tuple[JobRun, dict[str, str]]:
    """The action's steps (its install stood in by the test's venv) and the outputs they wrote."""
    temp.mkdir()
    run = run_job(
        ROOT / "action.yml",
        workspace=repo,
        inputs={"path": ".", **inputs},
        github={"action_path": str(ROOT)},
        env={},
        runner_temp=temp,
        skip=("Install reconciler from the action's checkout",),
    )
    written = [path.read_text() for path in sorted(temp.glob("output-*"))]
    outputs = dict(line.split("=", 1) for text in written for line in text.splitlines())
    return run, outputs


def test_the_action_runs_a_command_and_exposes_its_counts(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    run, outputs = run_action(
        repo,
        tmp_path / "runner-action",
        command="plan",
        args="--sandbox --format json --out plan.json",
        report="plan.json",
    )
    assert not run.failed, run.output
    plan = json.loads((repo / "plan.json").read_text())
    assert outputs == {
        "exit-code": "0",
        "report": "plan.json",
        "kind": "plan",
        "error": "",
        "changes": str(plan["summary"]["changes_pending"]),
        "blocked": "3",
        "not-applied": "0",
        "drift": "0",
        "violations": "0",
        "unknown": "0",
    }
    assert int(outputs["changes"]) > 0
    declared = YAML(typ="safe").load((ROOT / "action.yml").read_text())["outputs"]
    assert set(outputs) <= set(declared)  # each output the step writes reaches the caller
    for name in outputs:
        assert declared[name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_the_actions_step_fails_when_the_command_fails_after_writing_its_outputs(
    tmp_path: Path,
) -> None:
    repo = workspace(tmp_path)
    (repo / ALICE).write_text("settings:\n  in_meeting:\n    polling: maybe\n")
    run, outputs = run_action(
        repo,
        tmp_path / "runner-action",
        command="plan",
        args="--sandbox --format json --out plan.json",
        report="plan.json",
    )
    assert run.failed
    step = run.step("run")
    assert step.code == 1
    assert "::error::the reconciler command exited 1 (1: an error, 3: refused; see above)" in (
        step.stdout
    )
    assert outputs["exit-code"] == "1"


def test_fail_on_error_false_leaves_the_exit_code_to_a_later_step(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    (repo / ALICE).write_text("settings:\n  in_meeting:\n    polling: maybe\n")
    run, outputs = run_action(
        repo,
        tmp_path / "runner-action",
        command="plan",
        args="--sandbox --format json --out plan.json",
        report="plan.json",
        **{"fail-on-error": "false"},
    )
    assert not run.failed, run.output
    assert outputs["exit-code"] == "1"
    assert "::error::" not in run.output.replace(f"::error file={ALICE}", "")


def test_changes_pending_do_not_fail_the_actions_step_and_a_refusal_does(
    tmp_path: Path,
) -> None:
    repo = workspace(tmp_path)
    detailed = "--sandbox --detailed-exitcode --format json --out plan.json"
    pending, outputs = run_action(
        repo,
        tmp_path / "runner-pending",
        command="plan",
        args=f"{detailed} --target user:alice@acme.test",
        report="plan.json",
    )
    assert not pending.failed, pending.output
    assert outputs["exit-code"] == "2"  # changes pending: news, not a failure
    refused, outputs = run_action(
        repo, tmp_path / "runner-refused", command="plan", args=detailed, report="plan.json"
    )
    assert refused.failed  # the example's three BLOCKED changes: refused
    assert refused.step("run").code == 3
    assert (outputs["exit-code"], outputs["blocked"]) == ("3", "3")


def test_an_unreadable_report_fails_the_step_but_keeps_the_exit_code(tmp_path: Path) -> None:
    repo = workspace(tmp_path)
    run, outputs = run_action(
        repo,
        tmp_path / "runner-action",
        command="plan",
        args="--sandbox --target user:alice@acme.test",
        report="reconciler.yaml",  # not a report of this tool
    )
    assert run.failed
    step = run.step("run")
    assert step.code == 1
    assert "::error::the reconciler command succeeded, but its report could not be read" in (
        step.stdout
    )
    assert outputs["exit-code"] == "0"


def test_an_apply_that_could_not_read_a_target_outputs_it_as_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = workspace(tmp_path)
    alice_security = {
        "path": "/v2/users/{user:alice}/settings",
        "query": {"option": "meeting_security"},
        "status": 404,
        "body": {"code": 1001, "message": "User does not exist: {user:alice}."},
    }
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["apply", str(repo), "--sandbox", "--yes", "--format", "json"],
        obj=failing_reads(repo, [alice_security]),
        catch_exceptions=False,
    )
    assert done.exit_code == 1, done.output
    report = tmp_path / "apply.json"
    report.write_text(done.stdout)
    assert json.loads(done.stdout)["unknown_targets"] == 1
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    outputs = runner.invoke(cli, ["github", "outputs", str(report), "--exit-code", "1"])
    assert outputs.exit_code == 0, outputs.output
    written = dict(line.split("=", 1) for line in outputs.stdout.splitlines())
    assert (written["unknown"], written["blocked"], written["not-applied"]) == ("1", "3", "0")
