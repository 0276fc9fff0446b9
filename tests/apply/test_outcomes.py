"""What apply reports and how it exits: one outcome per change, counted once; the example
repo's scheduled run; files for users who left; two applies at once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.runlock import run_lock_path
from reconciler.diff import lookup
from reconciler.sandbox import DEFAULT_ACCOUNT_ID, SandboxApp, acme_tenant
from reconciler.sandbox.effective import Resolver
from tests.apply.conftest import Served, reconciler, serving, zoom_env
from tests.apply.repos import BUSINESS, to_yaml, write_repo
from tests.apply.test_cli import ALICE, save_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
FLIPPED = [
    ("in_meeting", "chat"),
    ("in_meeting", "annotation"),
    ("in_meeting", "polling"),
    ("in_meeting", "breakout_room"),
    ("in_meeting", "file_transfer"),
]


def _alice_six(served: Served, root: Path) -> Path:
    """Alice's file changes five booleans and her passcode length: six changes."""
    user = served.tenant.user("alice@acme.test")
    assert user is not None
    live = Resolver(served.tenant).user_settings(user, "general")
    general: dict[str, dict[str, bool]] = {}
    for section, key in FLIPPED:
        general.setdefault(section, {})[key] = not lookup(live, (section, key))
    document = {
        "settings": general,
        "meeting_security": {"meeting_password_requirement": {"length": 10}},
    }
    return write_repo(
        root, {"reconciler.yaml": BUSINESS, "users/alice@acme.test.yaml": to_yaml(document)}
    )


def test_a_saved_plan_with_one_stale_change_reports_each_change(
    served: Served, tmp_path: Path
) -> None:
    repo = _alice_six(served, tmp_path / "repo")
    saved = save_plan(repo, served)
    served.change(
        ALICE,
        {"meeting_security": {"meeting_password_requirement": {"length": 8}}},
        "meeting_security",
    )
    text = reconciler("apply", repo, "--plan", saved, "--yes")
    assert text.exit_code == 3, text.output  # stale: the plan is out of date
    assert "  user alice@acme.test: 5 applied, 1 stale\n" in text.stdout
    assert "  applied:     5 change(s) on 1 target(s), read back and verified\n" in text.stdout
    assert "  stale:       1 change(s) on 1 target(s)" in text.stdout


def test_the_json_report_counts_each_change_once(served: Served, tmp_path: Path) -> None:
    repo = _alice_six(served, tmp_path / "repo")
    saved = save_plan(repo, served)
    served.change(
        ALICE,
        {"meeting_security": {"meeting_password_requirement": {"length": 8}}},
        "meeting_security",
    )
    done = reconciler("apply", repo, "--plan", saved, "--yes", "--format", "json")
    assert done.exit_code == 3, done.output
    report = json.loads(done.stdout)
    [alice] = report["targets"]
    assert alice["target"]["email"] == "alice@acme.test"
    assert alice["counts"] == {"applied": 5, "stale": 1}
    assert report["summary"] == {
        "applied": 5,
        "in_sync": 0,
        "stale": 1,
        "blocked": 0,
        "not_applied": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert report["converged"] is False
    stale = [c for c in report["changes"] if c["result"] == "stale"]
    assert [c["path"] for c in stale] == [["meeting_password_requirement", "length"]]
    assert "Apply summary" not in done.stdout and "Apply summary" not in done.stderr


def _example(tmp_path: Path) -> Path:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    return repo


def test_the_example_repos_scheduled_apply_exits_0_and_lists_what_is_blocked(
    tmp_path: Path,
) -> None:
    repo = _example(tmp_path)
    done = reconciler("apply", repo, "--sandbox", "--yes")
    assert done.exit_code == 0, done.output
    blocked = [line for line in done.stdout.splitlines() if line.startswith("  BLOCKED ")]
    assert blocked == [
        "  BLOCKED user dave@acme.test [general] recording.cloud_recording: locked by group "
        "Engineering, groups/Engineering.yaml:10:5: change it there",
        "  BLOCKED user heidi@acme.test [general] in_meeting.screen_sharing: locked by group "
        "Support, groups/Support.yaml:8:5: change it there",
        "  BLOCKED user mallory@acme.test [general] schedule_meeting.join_before_host: locked by "
        "the account, account.yaml:31:5: change it there",
    ]
    assert "  blocked:     3 change(s) on 3 target(s), never sent\n" in done.stdout
    again = reconciler("apply", repo, "--sandbox", "--yes", "--fail-on-blocked")
    assert again.exit_code == 3, again.output
    assert "  blocked:     3 change(s) on 3 target(s), never sent\n" in again.stdout


def test_a_file_for_a_user_who_left_is_a_warning_and_the_rest_is_applied(
    served: Served, tmp_path: Path
) -> None:
    files = {
        "reconciler.yaml": BUSINESS,
        "users/alice@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
        "users/oscar@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
        "users/nobody@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
    }
    repo = write_repo(tmp_path / "repo", files)
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        "users/nobody@acme.test.yaml:1:1: warning: user: Zoom has no user nobody@acme.test "
        "(hint: check the spelling, or remove the file if the user left; skipped)",
        "users/oscar@acme.test.yaml:1:1: warning: user: user oscar@acme.test is inactive in Zoom "
        "(hint: activate the user in Zoom, or remove the file; skipped)",
    ]
    assert "  applied:     1 change(s) on 1 target(s)" in done.stdout
    assert [e.path for e in served.patches()] == [f"/v2{ALICE}"]
    strict = reconciler("plan", repo, "--strict")
    assert strict.exit_code == 1


def _apply_process(repo: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "reconciler", "apply", str(repo), "--yes", *args]
    return subprocess.Popen(
        command,
        env={**os.environ, **env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# A bound on each wait below, so that a broken run fails instead of hanging; no step relies on
# it passing (each waits for a state), and it stays under the client's 60 s deadline per request.
STATE_BOUND = 50.0


class HoldsFirstPatch:
    """Holds the first PATCH (so its apply holds the run lock) until `release` is set."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.held, self.release = threading.Event(), threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        first = scope["type"] == "http" and scope["method"] == "PATCH" and not self.held.is_set()
        if first:
            self.held.set()
            await asyncio.to_thread(self.release.wait, STATE_BOUND)
        await self.app(scope, receive, send)


def _until(state: Callable[[], bool], what: str, *alive: subprocess.Popen[str]) -> None:
    """Wait for `state`, failing at once when a process that should bring it about has exited."""
    deadline = time.monotonic() + STATE_BOUND
    while not state():
        exited = [process.args for process in alive if process.poll() is not None]
        assert not exited, f"exited before {what}: {exited}"
        assert time.monotonic() < deadline, f"no {what} after {STATE_BOUND:g} s"
        time.sleep(0.01)


def _has_open(process: subprocess.Popen[str], path: Path) -> bool:
    """Whether `process` has `path` open (it is trying the run lock)."""
    folder = Path(f"/proc/{process.pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in folder.iterdir())
    except OSError:  # an fd closed while looking
        return False


@pytest.mark.slow
def test_two_applies_at_once_send_each_change_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first apply is held at its first PATCH, so it holds the run lock while a second
    apply is refused and a third waits on the lock (it has the lock file open); then it goes on."""
    repo = _example(tmp_path).resolve()
    lock = run_lock_path(repo, DEFAULT_ACCOUNT_ID)
    gates: list[HoldsFirstPatch] = []

    def wrap(app: SandboxApp) -> HoldsFirstPatch:
        gates.append(HoldsFirstPatch(app))
        return gates[0]

    with serving(monkeypatch, acme_tenant(), wrap=wrap) as served:
        served.forget()
        env, gate = zoom_env(served.url), gates[0]
        first = _apply_process(repo, env)
        _until(gate.held.is_set, "PATCH from the first apply", first)
        refused = _apply_process(repo, env)
        waiting = _apply_process(repo, env, "--lock-timeout", "120")
        refused_output = refused.communicate(timeout=STATE_BOUND)
        _until(lambda: _has_open(waiting, lock), "lock file open in the third apply", waiting)
        assert first.poll() is None  # still held: the third apply waits on its lock
        gate.release.set()
        outputs = [process.communicate(timeout=120) for process in (first, waiting)]
        served.settle()
        patches = served.patches()
    assert first.returncode == 0, outputs[0]
    assert refused.returncode == 1, refused_output
    assert refused_output[1].startswith(
        f"error: another apply of this repo and account is running (pid {first.pid}, started "
    )
    assert waiting.returncode == 0, outputs[1]
    assert "Plan: 0 changes to 3 targets, 3 blocked" in outputs[1][0]  # planned after the first
    sent = [
        (e.path, e.query.get("option", ""), json.dumps(e.body, sort_keys=True)) for e in patches
    ]
    assert len(sent) == len(set(sent)) == 36  # the example plan's 36 requests, each once


def test_apply_target_and_changed_since_plan_and_send_only_those_targets(tmp_path: Path) -> None:
    repo = _example(tmp_path)
    done = reconciler("apply", repo, "--sandbox", "--yes", "--target", "user:alice@acme.test")
    assert done.exit_code == 0, done.output
    assert "  applied:     " in done.stdout
    targets = [line for line in done.stdout.splitlines() if line.startswith("user ")]
    assert targets == ["user alice@acme.test"]
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@a.test"]
    (repo / ".gitignore").write_text(".reconciler/\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    (repo / "users/bob@acme.test.yaml").write_text("settings:\n  in_meeting:\n    chat: true\n")
    changed = reconciler("apply", repo, "--sandbox", "--yes", "--changed-since", "HEAD")
    assert changed.exit_code == 0, changed.output
    planned = [line for line in changed.stdout.splitlines() if line.startswith("user ")]
    assert planned == ["user bob@acme.test"]


def test_a_full_disk_stops_the_run_before_a_patch_goes_out_without_its_line(
    served: Served, tmp_path: Path
) -> None:
    from tests.apply.test_audit_log import tmpfs  # noqa: PLC0415 - its skip when no mount

    repo = _example(tmp_path)
    with tmpfs(tmp_path / "small", "size=12k") as disk:
        log = disk / "audit.log"
        done = reconciler("apply", repo, "--yes", "--audit-log", log)
        served.settle()
        lines = log.read_bytes().split(b"\n")
    assert done.exit_code == 1, done.output
    assert f"cannot write the audit log {log}: No space left on device" in done.stdout
    whole = [json.loads(line) for line in lines[:-1]]  # the last may be torn: never sent after
    sending = [line for line in whole if line["result"] == "sending"]
    sent = served.patches()
    assert 0 < len(sent) <= len(sending) < 36  # every PATCH had its line first; the run stopped
    assert "Not converged" in done.stdout
