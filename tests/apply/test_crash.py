"""Crash: `reconciler apply --yes` is killed with SIGKILL part way through a 500-user run against a
sandbox in its own process; a second apply finishes the job, every audit log line parses, and a
plan afterwards has nothing pending."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from reconciler.connect import Connector
from reconciler.sandbox import SandboxConfig, generate_tenant, save_state
from reconciler.zoom.client import default_in_flight
from tests.apply.repos import flip_repo
from tests.plan.sandbox_repo import plan_repo

USERS = 500
KILL_AFTER_LINES = 120  # audit lines: a `sending` and a result line per user
pytestmark = pytest.mark.slow


@contextmanager
def serve_sandbox(state: Path) -> Iterator[dict[str, str]]:
    """`reconciler sandbox serve --state FILE` in its own process; yields its ZOOM_* variables."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "serve", "--state", str(state)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(5)]
        yield dict(line.removeprefix("export ").split("=", 1) for line in lines)
    finally:
        process.terminate()
        process.wait(10)


def _zoom() -> Connector:
    """The ZOOM_* environment's account: the sandbox served on 127.0.0.1."""
    return Connector().from_env()


def apply_command(repo: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", str(repo), "--yes"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "NO_COLOR": "1"},
        )


def audit_lines(repo: Path) -> list[dict[str, Any]]:
    path = repo / ".reconciler" / "audit.log"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def kill_part_way(process: subprocess.Popen[bytes], repo: Path) -> None:
    deadline = time.monotonic() + 60
    while len(audit_lines(repo)) < KILL_AFTER_LINES:
        assert process.poll() is None, "apply ended before it could be killed"
        assert time.monotonic() < deadline, "apply did not start sending"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


def journal(env: dict[str, str]) -> list[dict[str, Any]]:
    base = env["ZOOM_API_URL"].removesuffix("/v2")
    entries: list[dict[str, Any]] = httpx2.get(f"{base}/_sandbox/journal").json()["entries"]
    return entries


def test_second_apply_finishes_what_a_killed_one_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = generate_tenant(users=600, groups=6, seed=1)
    repo = tmp_path / "repo"
    bodies = flip_repo(repo, tenant, USERS, more=False)
    save_state(tmp_path / "sandbox.json", tenant, SandboxConfig(latency_ms=10, jitter_ms=5))
    with serve_sandbox(tmp_path / "sandbox.json") as env:
        first = apply_command(repo, tmp_path / "first.out", env)
        kill_part_way(first, repo)
        written = {e["path"] for e in journal(env) if e["method"] == "PATCH" and e["status"] == 204}
        assert 0 < len(written) < USERS  # killed part way

        second = apply_command(repo, tmp_path / "second.out", env)
        assert second.wait(120) == 0, (tmp_path / "second.out").read_text()[-3000:]

        # Every user got exactly the planned body; no one outside the repo was written.
        patches = [e for e in journal(env) if e["method"] == "PATCH"]
        for entry in patches:
            user_id = entry["path"].removeprefix("/v2/users/").removesuffix("/settings")
            assert entry["body"] == bodies[user_id][""]
        assert {e["path"] for e in patches if e["status"] == 204} == {
            f"/v2/users/{user_id}/settings" for user_id in bodies
        }

        # Whole lines only. Every user has a `sending` line; all but those whose PATCH was in
        # flight at the kill (at most one per worker) also have an `applied` line.
        lines = audit_lines(repo)
        assert {line["result"] for line in lines} == {"sending", "applied"}
        sending = {line["target"]["id"] for line in lines if line["result"] == "sending"}
        applied = {line["target"]["id"] for line in lines if line["result"] == "applied"}
        assert sending == set(bodies)
        assert len(sending - applied) <= default_in_flight(60)

        # A fresh plan (rate limits lifted to keep the test short) has nothing to do.
        base = env["ZOOM_API_URL"].removesuffix("/v2")
        off = {"rate_limits": {"LIGHT": None, "MEDIUM": None, "HEAVY": None}}
        assert httpx2.patch(f"{base}/_sandbox/config", json=off).status_code == 200
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        after = asyncio.run(plan_repo(repo, rate=1000, connector=_zoom()))
        assert (after.pending, after.blocked, after.unknown) == ([], [], [])
        assert after.summary.targets == USERS
