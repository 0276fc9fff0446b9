"""Every `--format json` run writes one JSON report on stdout, success or failure: the kind it
would have written (`plan`, `apply`, `audit`, `validate`), and on failure an `error` with the
code, exit code, message, hint and the refusal's reason; `github outputs` reads them by kind."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.apply.runlock import RunLock, run_lock_path
from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.github import cli as github_cli
from reconciler.render.failure import FORMAT_VERSIONS
from reconciler.sandbox import DEFAULT_ACCOUNT_ID
from tests.plan.sandbox_repo import failing_reads, open_app
from tests.test_exit_codes import CHAT_OFF, LIMIT_0, alice, repo_of

BAD_CHAT = "settings:\n  in_meeting:\n    chat: yes\n"  # line 3: not a boolean


def run(*args: str, connector: Connector | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), obj=connector, env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def report(result: Result) -> dict[str, Any]:
    """stdout is exactly one JSON document."""
    found = json.loads(result.stdout)
    assert isinstance(found, dict)
    return found


def error_of(result: Result, kind: str, exit_code: int) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    found = report(result)
    assert found["kind"] == kind and found["format_version"] == FORMAT_VERSIONS[kind]
    assert found["error"]["exit_code"] == exit_code
    return dict(found["error"])


# -- plan ----------------------------------------------------------------------------------------


def test_a_plan_of_a_broken_repo_is_a_plan_report_with_each_problem(tmp_path: Path) -> None:
    repo = alice(tmp_path, BAD_CHAT)
    done = run("plan", str(repo), "--sandbox", "--format", "json")
    error = error_of(done, "plan", 1)
    assert error["code"] == "invalid_repo"
    assert [(p["file"], p["line"]) for p in error["problems"]] == [
        ("users/alice@acme.test.yaml", 3)
    ]
    assert "users/alice@acme.test.yaml:3:" in done.stderr  # the line a user acts on, still
    assert done.stderr.splitlines()[-1] == "1 problem in 1 file"


def test_a_plan_with_a_wrong_client_secret_is_a_plan_report_naming_the_token_request(
    tmp_path: Path,
) -> None:
    repo = alice(tmp_path)
    refused = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    rule = {"method": "POST", "path": "/oauth/token", "status": 401, "body": refused}
    done = run("plan", str(repo), "--sandbox", "--format", "json",
               connector=failing_reads(repo, [rule]))  # fmt: skip
    error = error_of(done, "plan", 1)
    assert error["code"] == "zoom_auth"
    assert error["message"].startswith("POST http://127.0.0.1/oauth/token, HTTP 401: Zoom refused")
    assert error["hint"].startswith("check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET")
    assert "sandbox-secret" not in done.output


def test_a_plan_saved_with_out_gets_the_failure_too_and_apply_will_not_take_it(
    tmp_path: Path,
) -> None:
    repo = alice(tmp_path, BAD_CHAT)
    saved = tmp_path / "plan.json"
    saved.write_text('{"an": "older plan"}')
    done = run("plan", str(repo), "--sandbox", "--format", "markdown", "--out", str(saved))
    assert done.exit_code == 1
    assert json.loads(saved.read_text())["error"]["code"] == "invalid_repo"
    # The PR comment of a plan that could not be made says so, and what to do.
    assert done.stdout.splitlines()[:3] == [
        "### reconciler plan: failed (exit 1)",
        "",
        "**invalid_repo**: 1 problem in the settings repo",
    ]
    assert "What to do: fix each problem at its file:line" in done.stdout
    fixed = alice(tmp_path / "fixed")
    applied = run("apply", str(fixed), "--sandbox", "--plan", str(saved), "--yes")
    assert applied.exit_code == 1
    assert applied.stderr.strip() == (
        f"error: {saved}: the plan run that wrote it failed, so it holds no plan; plan again"
    )


def test_a_successful_plan_is_of_kind_plan(tmp_path: Path) -> None:
    done = run("plan", str(alice(tmp_path)), "--sandbox", "--format", "json")
    assert done.exit_code == 0, done.output
    found = report(done)
    assert found["kind"] == "plan" and "error" not in found
    assert found["summary"]["changes_pending"] == 1


# -- apply ---------------------------------------------------------------------------------------


def test_an_apply_over_a_safety_limit_names_the_limit_and_sends_nothing(tmp_path: Path) -> None:
    repo = alice(tmp_path, **LIMIT_0)
    done = run("apply", str(repo), "--sandbox", "--yes", "--format", "json")
    error = error_of(done, "apply", 3)
    assert error["code"] == "unsafe_plan"
    assert error["reason"] == "max_changed_targets"
    assert error["reasons"] == [
        {
            "code": "max_changed_targets",
            "reason": "1 targets change, more than max_changed_targets (0)",
        }
    ]
    assert error["hint"].startswith("Check the plan, then apply with --force")
    patches = [e for e in open_app(repo).sandbox.journal.entries() if e.method == "PATCH"]
    assert patches == []


def test_an_apply_of_a_stale_plan_says_stale(tmp_path: Path) -> None:
    repo = alice(tmp_path)
    saved = tmp_path / "plan.json"
    assert run("plan", str(repo), "--sandbox", "--out", str(saved)).exit_code == 0
    (repo / "users/alice@acme.test.yaml").write_text(CHAT_OFF + "  # later\n")
    done = run("apply", str(repo), "--sandbox", "--plan", str(saved), "--yes", "--format", "json")
    error = error_of(done, "apply", 3)
    assert (error["code"], error["reason"], error["file"]) == ("plan_refused", "stale", str(saved))
    assert error["message"].startswith("the settings repo changed since the plan was made")


def test_an_apply_of_an_edited_plan_says_edited(tmp_path: Path) -> None:
    repo = alice(tmp_path)
    saved = tmp_path / "plan.json"
    assert run("plan", str(repo), "--sandbox", "--out", str(saved)).exit_code == 0
    saved.write_text(saved.read_text().replace('"after": false', '"after": true'))
    done = run("apply", str(repo), "--sandbox", "--plan", str(saved), "--yes", "--format", "json")
    error = error_of(done, "apply", 3)
    assert (error["code"], error["reason"]) == ("plan_refused", "edited")


def test_an_apply_while_another_holds_the_lock_says_locked(tmp_path: Path) -> None:
    repo = alice(tmp_path)
    with RunLock(run_lock_path(repo, DEFAULT_ACCOUNT_ID), "other-run"):
        done = run("apply", str(repo), "--sandbox", "--yes", "--format", "json")
    error = error_of(done, "apply", 1)
    assert (error["code"], error["reason"]) == ("locked", "locked")
    assert error["hint"] == "wait for the other apply, or pass --lock-timeout"


def test_an_apply_nobody_can_confirm_is_refused_in_json_too(tmp_path: Path) -> None:
    done = run("apply", str(alice(tmp_path)), "--sandbox", "--format", "json")
    error = error_of(done, "apply", 3)
    assert (error["code"], error["reason"]) == ("refused", "refused")
    assert error["message"] == "not a terminal, so nobody can confirm; run with --yes"


def test_a_finished_apply_is_of_kind_apply(tmp_path: Path) -> None:
    done = run("apply", str(alice(tmp_path)), "--sandbox", "--yes", "--format", "json")
    assert done.exit_code == 0, done.output
    found = report(done)
    assert found["kind"] == "apply" and "error" not in found
    assert found["summary"]["applied"] == 1


# -- audit ---------------------------------------------------------------------------------------


def test_an_audit_that_fails_writes_its_report_where_asked(tmp_path: Path) -> None:
    repo = alice(tmp_path, BAD_CHAT)
    on_stdout = run("audit", str(repo), "--sandbox", "--format", "json")
    assert error_of(on_stdout, "audit", 1)["code"] == "invalid_repo"
    out, evidence = tmp_path / "out" / "audit.json", tmp_path / "evidence"
    to_files = run("audit", str(repo), "--sandbox", "--format", "json", "--out", str(out),
                   "--evidence", str(evidence))  # fmt: skip
    assert to_files.exit_code == 1
    assert to_files.stdout.startswith("users/alice@acme.test.yaml:3:11: ")  # as without JSON
    found = json.loads(out.read_text())
    assert (found["kind"], found["error"]["code"]) == ("audit", "invalid_repo")
    in_evidence = json.loads(gzip.decompress((evidence / "audit.json.gz").read_bytes()))
    assert in_evidence == found


def test_a_finished_audit_is_of_kind_audit(tmp_path: Path) -> None:
    done = run("audit", str(alice(tmp_path)), "--sandbox", "--format", "json")
    found = report(done)
    assert found["kind"] == "audit" and "error" not in found


# -- validate ------------------------------------------------------------------------------------


def test_validate_json_of_a_valid_repo(tmp_path: Path) -> None:
    repo = alice(tmp_path)
    done = run("validate", str(repo), "--format", "json")
    assert done.exit_code == 0, done.output
    assert report(done) == {
        "kind": "validate",
        "format_version": 1,
        "path": str(repo),
        "valid": True,
        "summary": {"account": False, "defaults": None, "groups": 0, "users": 1},
        "problems": [],
        "violations": [],
    }


def test_validate_json_of_a_broken_repo_lists_each_problem(tmp_path: Path) -> None:
    repo = alice(tmp_path, BAD_CHAT)
    done = run("validate", str(repo), "--format", "json")
    error = error_of(done, "validate", 1)
    found = report(done)
    assert found["valid"] is False
    assert found["problems"] == error["problems"]
    assert [(p["file"], p["line"], p["col"]) for p in found["problems"]] == [
        ("users/alice@acme.test.yaml", 3, 11)
    ]


def test_validate_json_of_a_repo_that_breaks_a_rule(tmp_path: Path) -> None:
    repo = repo_of(tmp_path)  # the example asks for what its own baseline pack fails
    done = run("validate", str(repo), "--format", "json")
    assert done.exit_code == 3, done.output
    found = report(done)
    assert found["valid"] is False and "error" not in found
    assert found["violations"] and all(v["file"] for v in found["violations"])


# -- github outputs ------------------------------------------------------------------------------


def outputs(path: Path, code: int) -> Result:
    return CliRunner().invoke(cli, ["github", "outputs", str(path), "--exit-code", str(code)])


def test_outputs_of_a_failed_run_say_its_error_and_count_nothing(tmp_path: Path) -> None:
    repo = alice(tmp_path, **LIMIT_0)
    done = run("apply", str(repo), "--sandbox", "--yes", "--format", "json")
    saved = tmp_path / "apply.json"
    saved.write_text(done.stdout)
    found = outputs(saved, done.exit_code)
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines() == [
        "exit-code=3",
        f"report={saved}",
        "kind=apply",
        "error=unsafe_plan",
        "changes=0",
        "blocked=0",
        "not-applied=0",
        "drift=0",
        "violations=0",
        "unknown=0",
    ]


def test_outputs_refuse_a_document_of_no_kind_they_know(tmp_path: Path) -> None:
    for text, shown in (('{"summary": {}}', "no kind"), ('{"kind": "sbom"}', "sbom")):
        saved = tmp_path / "report.json"
        saved.write_text(text)
        found = outputs(saved, 0)
        assert found.exit_code == 1
        assert found.stderr.strip() == (
            f"error: {saved}: a document of {shown}, not a report of this version of reconciler"
            " (one of plan, apply, audit, validate); pass the report a command wrote with"
            " --format json"
        )


def test_an_apply_dry_run_in_json_lists_the_requests_and_why_apply_would_refuse(
    tmp_path: Path,
) -> None:
    repo = alice(tmp_path, **LIMIT_0)
    done = run("apply", str(repo), "--sandbox", "--dry-run", "--format", "json")
    assert done.exit_code == 0, done.output
    found = report(done)
    assert (found["kind"], found["dry_run"], found["converged"]) == ("apply", True, False)
    assert found["summary"] == {
        "applied": 0, "would_send": 1, "pending": 1, "blocked": 0, "not_applied": 0, "failed": 0,
    }  # fmt: skip
    assert found["would_refuse"] == [
        {
            "code": "max_changed_targets",
            "reason": "1 targets change, more than max_changed_targets (0)",
        }
    ]
    [request] = found["requests"]
    assert (request["method"], request["body"]) == ("PATCH", {"in_meeting": {"chat": False}})
    assert "Dry run: 1 request(s) would be sent; nothing was sent." in done.stderr
    patches = [e for e in open_app(repo).sandbox.journal.entries() if e.method == "PATCH"]
    assert patches == []


def test_outputs_read_a_gzipped_report_as_the_plain_one(tmp_path: Path) -> None:
    repo = alice(tmp_path, CHAT_OFF)
    plain, packed = tmp_path / "audit.json", tmp_path / "audit.json.gz"
    for out in (plain, packed):
        assert run("audit", str(repo), "--sandbox", "--quiet", "--format", "json",
                   "--out", str(out)).exit_code == 2  # fmt: skip
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    from_plain, from_packed = outputs(plain, 2), outputs(packed, 2)
    assert from_packed.exit_code == 0, from_packed.output
    assert from_packed.stdout.splitlines()[2:] == from_plain.stdout.splitlines()[2:]
    assert from_packed.stdout.splitlines()[2:5] == ["kind=audit", "error=", "changes=0"]
    assert "drift=1" in from_packed.stdout.splitlines()


def test_outputs_refuse_a_gzip_that_inflates_past_the_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "audit.json.gz"
    # One 64 MiB string in about 64 KB: refused once that much is held, never parsed whole
    bomb.write_bytes(gzip.compress(b'{"kind": "audit", "x": "' + b"0" * (64 << 20) + b'"}', 1))
    assert bomb.stat().st_size < 1 << 20
    found = outputs(bomb, 0)
    assert found.exit_code == 1
    assert found.stderr == (
        f"error: {bomb}: holds a value over {64 << 20} characters; not a report of this tool\n"
    )


def audit_report(findings: int) -> dict[str, Any]:
    summary = {"unknown_targets": 0, "by_result": {"fail": findings, "drift": 0}}
    listed = [{"kind": "policy", "message": "x" * 100} for _ in range(findings)]
    return {"kind": "audit", "format_version": 1, "summary": summary, "findings": listed}


def test_outputs_read_an_audit_whose_findings_are_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit made small, so the test need not write 64 MiB: each finding is parsed and let
    # go, the summary counts them.
    monkeypatch.setattr(github_cli, "_REPORT_LIMIT", 10_000)
    saved = tmp_path / "audit.json.gz"
    saved.write_bytes(gzip.compress(json.dumps(audit_report(1_000), indent=2).encode()))
    assert len(gzip.decompress(saved.read_bytes())) > 100_000
    found = outputs(saved, 2)
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines()[2:] == [
        "kind=audit", "error=", "changes=0", "blocked=0", "not-applied=0", "drift=0",
        "violations=1000", "unknown=0",
    ]  # fmt: skip
    # Any other big value is held, so refused: here an apply report's list of changes.
    report = {"kind": "apply", "changes": audit_report(1_000)["findings"]}
    saved.write_bytes(gzip.compress(json.dumps(report).encode()))
    refused = outputs(saved, 0)
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: {saved}: holds a value over 10000 characters; not a report of this tool\n"
    )


def test_outputs_refuse_a_damaged_gzip(tmp_path: Path) -> None:
    damaged = tmp_path / "audit.json.gz"
    damaged.write_bytes(gzip.compress(b'{"kind": "audit"}')[:-6])  # its end cut off
    found = outputs(damaged, 0)
    assert found.exit_code == 1
    assert found.stderr == (
        f"error: {damaged}: a damaged gzip file; pass the report the command wrote\n"
    )
