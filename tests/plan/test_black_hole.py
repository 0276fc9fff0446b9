"""A Zoom that takes requests for users' settings and never answers them, against whole commands.

Without a run-wide bound each such read sits out its own deadline and retries (minutes), and the
families of a target were read one after another. With `read_deadline` the command ends once it
is spent: the users it could not read are UNKNOWN, never written, and the run exits 1 with the
line the CI log shows. The wall-time bounds are generous; that there is one is the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.sandbox import SandboxApp
from tests.plan.sandbox_repo import prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
USER_SETTINGS = re.compile(r"/v2/users/[^/]+/settings")
USERS = sorted(path.name.removesuffix(".yaml") for path in (EXAMPLE / "users").iterdir())
SPENT = (
    "not read: the run's reads took their whole 2 s, so the run stops reading; check "
    "ZOOM_API_URL and the network, or raise read_deadline / read_stall in reconciler.yaml"
)


class UserSettingsBlackHole:
    """The sandbox, except that a GET of a user's settings is taken and never answered."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.sandbox = app.sandbox
        self.hung = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        asks_settings = scope["type"] == "http" and scope["method"] == "GET"
        if asks_settings and USER_SETTINGS.fullmatch(scope["path"]):
            self.hung += 1
            await asyncio.Event().wait()
        await self.app(scope, receive, send)


def run(tmp_path: Path, *args: str) -> tuple[int, str, float, UserSettingsBlackHole]:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    options = repo / "reconciler.yaml"
    options.write_text(options.read_text(encoding="utf-8") + "read_deadline: 2\n", "utf-8")
    prepare(repo)
    apps: list[UserSettingsBlackHole] = []

    def black_hole(app: SandboxApp) -> UserSettingsBlackHole:
        apps.append(UserSettingsBlackHole(app))
        return apps[-1]

    connector = Connector(sandbox=True, sandbox_app=black_hole)
    started = time.monotonic()
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(cli, [*args, "repo", "--sandbox"], obj=connector)
    return result.exit_code, result.output, time.monotonic() - started, apps[0]


def test_plan_ends_at_the_read_deadline_with_every_unread_user_unknown(tmp_path: Path) -> None:
    code, output, took, zoom = run(tmp_path, "plan")
    assert code == 1
    # Without the bound: minutes (each read's deadline and retries). Asked generously.
    assert took < 60
    lines = output.splitlines()
    assert lines[-1] == (
        "error: 41 read(s) failed; those targets are UNKNOWN, neither in sync nor drift"
    )
    for user in USERS:
        unknown = [line for line in lines if line.startswith(f"  ? user {user}")]
        assert unknown, f"{user} is not UNKNOWN"
        assert all(line.endswith(SPENT) for line in unknown)
    # Every family of every user was asked at once, not one after another.
    assert zoom.hung == 41


def test_apply_writes_no_user_it_could_not_read(tmp_path: Path) -> None:
    code, output, took, zoom = run(tmp_path, "apply", "--yes")
    assert code == 1
    assert took < 60
    writes = [e for e in zoom.sandbox.journal.entries() if e.method != "GET"]
    assert [e.path for e in writes if e.path.startswith("/v2/users/")] == []
    assert output.splitlines()[-1] == (
        "Not converged: 12 target(s) could not be read or told apart (UNKNOWN, above) and were "
        "not written; a fresh plan would still show the changes above that did not apply."
    )


def test_an_api_that_never_answers_anything_ends_plan_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real-Zoom path, pointed at a socket that takes connections and never says a byte:
    the token request is part of the first read, so it is bounded too."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    options = repo / "reconciler.yaml"
    options.write_text(options.read_text(encoding="utf-8") + "read_deadline: 2\n", "utf-8")
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        base = f"http://127.0.0.1:{server.getsockname()[1]}"
        env = {
            "ZOOM_API_URL": f"{base}/v2",
            "ZOOM_OAUTH_URL": f"{base}/oauth/token",
            "ZOOM_ACCOUNT_ID": "acct",
            "ZOOM_CLIENT_ID": "client",
            "ZOOM_CLIENT_SECRET": "client-secret-VALUE",
        }
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["plan", str(repo)], env=env)
        took = time.monotonic() - started
    assert result.exit_code == 1
    assert took < 60
    assert result.output == f"error: GET /groups: {SPENT}\n"
    assert "client-secret-VALUE" not in result.output


def test_a_read_deadline_of_zero_is_refused_with_its_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    options = repo / "reconciler.yaml"
    lines = options.read_text(encoding="utf-8").count("\n")
    options.write_text(options.read_text(encoding="utf-8") + "read_stall: 0\n", "utf-8")
    result = CliRunner().invoke(cli, ["validate", str(repo)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"reconciler.yaml:{lines + 1}:13: read_stall: input should be greater than 0"
    )
