"""The request counts apply reports are the wire's: the summary's (text and JSON) and the last
progress line's equal what the sandbox on 127.0.0.1 journaled for the run, token requests,
plan reads, writes, read-backs, retries and the final re-check included."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reconciler.diff import lookup
from reconciler.sandbox import SandboxConfig, acme_tenant
from reconciler.sandbox.config import FaultConfig
from reconciler.sandbox.effective import Resolver
from tests.apply.conftest import Served, reconciler, serving
from tests.apply.repos import UNLIMITED, to_yaml, write_repo
from tests.apply.test_cli import save_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
SUMMARY_TRAFFIC = re.compile(r"^  (\d+) request\(s\), (\d+) retried, (\d+) rate limited \(429\)$")
PROGRESS_REQUESTS = re.compile(r"^apply: .*?(\d+) requests")
CHAT = ("in_meeting", "chat")


def _example(tmp_path: Path) -> Path:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    return repo


def _summary_traffic(stdout: str) -> tuple[int, int, int]:
    found = [m for line in stdout.splitlines() if (m := SUMMARY_TRAFFIC.match(line))]
    assert len(found) == 1, stdout
    requests, retried, throttled = (int(group) for group in found[0].groups())
    return requests, retried, throttled


def _wire(served: Served) -> list[tuple[str, str, int | None]]:
    """Every request the sandbox received (API and token), once it has answered them all."""
    served.settle()
    return [(e.method, e.path, e.status) for e in served.app.sandbox.journal.entries()]


def _last_progress_count(stderr: str) -> int:
    shown = [m.group(1) for line in stderr.splitlines() if (m := PROGRESS_REQUESTS.match(line))]
    assert shown, stderr
    return int(shown[-1])


@pytest.fixture(autouse=True)
def _progress_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Progress lines start at once (not after 2 s), so that even a quick run shows them.
    monkeypatch.setattr("reconciler.cli.PROGRESS_AFTER_SECONDS", 0.0)


def test_the_example_repos_apply_counts_every_request_the_sandbox_received(
    served: Served, tmp_path: Path
) -> None:
    repo = _example(tmp_path)
    served.forget()
    done = reconciler("apply", repo, "--yes")
    wire = _wire(served)
    assert done.exit_code == 0, done.output
    requests, retried, throttled = _summary_traffic(done.stdout)
    assert requests == len(wire)
    assert (retried, throttled) == (0, 0)
    methods = {method for method, _, _ in wire}
    assert ("POST", "/oauth/token", 200) in wire and methods == {"POST", "GET", "PATCH"}
    assert _last_progress_count(done.stderr) == requests


def test_the_final_re_check_is_counted_in_the_summary_and_the_last_progress_line(
    served: Served, tmp_path: Path
) -> None:
    """Alice, below the changed account, holds the new value herself: no request of her own,
    but read again after the last target is done."""
    chat = lookup(Resolver(served.tenant).account_settings("general"), CHAT)
    alice = served.user_id("alice@acme.test")
    served.change(f"/users/{alice}/settings", {"in_meeting": {"chat": not chat}})
    wanted = to_yaml({"settings": {"in_meeting": {"chat": not chat}}})
    files = {
        "reconciler.yaml": UNLIMITED,
        "account.yaml": wanted,
        "users/alice@acme.test.yaml": wanted,
    }
    repo = write_repo(tmp_path / "repo", files)
    done = reconciler("apply", repo, "--yes")
    wire = _wire(served)
    assert done.exit_code == 0, done.output
    assert "and 1 target(s) below a changed account or group were read again" in done.stdout
    assert wire[-1][:2] == ("GET", f"/v2/users/{alice}/settings")  # the re-check, last
    requests = _summary_traffic(done.stdout)[0]
    assert requests == len(wire)
    assert _last_progress_count(done.stderr) == requests


def test_the_json_report_of_a_saved_plan_counts_the_reads_before_each_patch(
    served: Served, tmp_path: Path
) -> None:
    repo = _example(tmp_path)
    saved = save_plan(repo, served)
    served.forget()
    done = reconciler("apply", repo, "--plan", saved, "--yes", "--format", "json")
    wire = _wire(served)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["traffic"] == {
        "requests": len(wire),
        "retried": 0,
        "rate_limited": 0,
    }


def test_a_run_with_nothing_to_send_counts_the_token_and_the_plans_reads(
    served: Served, tmp_path: Path
) -> None:
    repo = _example(tmp_path)
    assert reconciler("apply", repo, "--yes").exit_code == 0
    served.forget()
    again = reconciler("apply", repo, "--yes")
    wire = _wire(served)
    assert again.exit_code == 0, again.output
    assert {method for method, _, _ in wire} == {"POST", "GET"}
    assert _summary_traffic(again.stdout) == (len(wire), 0, 0)


def test_retried_requests_are_counted_as_the_server_saw_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = _example(tmp_path)
    config = SandboxConfig(faults=FaultConfig(error_503=0.1, oauth=True), seed=7)
    with serving(monkeypatch, acme_tenant(), config) as served:
        served.forget()
        done = reconciler("apply", repo, "--yes")
        wire = _wire(served)
    assert done.exit_code == 0, done.output
    requests, retried, throttled = _summary_traffic(done.stdout)
    api_503s = [path for _, path, status in wire if status == 503 and path.startswith("/v2/")]
    assert requests == len(wire)
    assert retried == len(api_503s) > 0
    assert throttled == 0
