"""One Zoom user's settings must never be written onto another.

A stand-in in front of the sandbox rewrites what Zoom says about who is who: two users listed
with one email, or a lookup that answers another listed user's id under the asked email. Each
user whose identity is in doubt is UNKNOWN with one line naming both, and apply sends no PATCH
to either id. Emails match by their ASCII-lowercased form only: a file named with the Kelvin sign
(U+212A) does not manage the ASCII user, and is warned of as a look-alike.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.connect import Connector, sandbox_state_path
from reconciler.sandbox import SandboxApp
from reconciler.sandbox.state import load_state
from tests.plan.sandbox_repo import prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]


class Rewriting:
    """The sandbox, with the JSON answers of GETs passed through `rewrite(path, body)`."""

    def __init__(self, app: SandboxApp, rewrite: Rewrite) -> None:
        self.app = app
        self.sandbox = app.sandbox
        self.rewrite = rewrite

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def hold(message: dict[str, Any]) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start, *bodies = held
        raw = b"".join(message.get("body", b"") for message in bodies)
        if start["status"] == 200 and raw:
            raw = json.dumps(self.rewrite(scope["path"], json.loads(raw))).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


def ids_of(repo: Path) -> dict[str, str]:
    tenant, _config = load_state(sandbox_state_path(repo))
    return {user.email: user.id for user in tenant.users}


def run(tmp_path: Path, rewrite: Rewrite, *args: str) -> tuple[int, str, SandboxApp]:
    apps: list[SandboxApp] = []

    def wrap(app: SandboxApp) -> Rewriting:
        apps.append(app)
        return Rewriting(app, rewrite)

    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(
            cli, [*args, "repo", "--sandbox"], obj=Connector(sandbox=True, sandbox_app=wrap)
        )
    return result.exit_code, result.output, apps[0]


def example(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    prepare(repo)
    return repo


def user_writes(app: SandboxApp, *ids: str) -> list[str]:
    paths = {f"/v2/users/{user_id}/settings" for user_id in ids}
    return [e.path for e in app.sandbox.journal.entries() if e.method != "GET" and e.path in paths]


def test_two_listed_users_with_one_email_are_unknown_and_never_written(tmp_path: Path) -> None:
    repo = example(tmp_path)
    ids = ids_of(repo)
    alice, bob = ids["alice@acme.test"], ids["bob@acme.test"]

    def bob_has_alices_email(path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/v2/users":
            for user in body["users"]:
                if user["id"] == bob:
                    user["email"] = "Alice@acme.test"
        return body

    code, output, app = run(tmp_path, bob_has_alices_email, "apply", "--yes")
    assert code == 1
    lines = output.splitlines()
    assert (
        f"  ? user alice@acme.test: Zoom has two users with the email Alice@acme.test (ids "
        f"{alice} and {bob}); not written: which one the file means cannot be told, so fix the "
        "duplicate in Zoom"
    ) in lines
    # bob, missing from the listing under his own email, is looked up: his id is taken.
    assert (
        f"  ? user bob@acme.test: Zoom gives the id {bob} to both Alice@acme.test and "
        "bob@acme.test; not written: a write to that id would change another user's settings, "
        "so check both users in Zoom"
    ) in lines
    assert user_writes(app, alice, bob) == []
    assert "Converged" not in output


def test_a_lookup_answering_another_listed_users_id_leaves_both_unwritten(
    tmp_path: Path,
) -> None:
    """alice is not in the listing, so she is looked up; Zoom answers with bob's id."""
    repo = example(tmp_path)
    ids = ids_of(repo)
    alice, bob = ids["alice@acme.test"], ids["bob@acme.test"]

    def alice_is_bob(path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/v2/users":
            body["users"] = [u for u in body["users"] if u["id"] != alice]
        if path == "/v2/users/alice@acme.test":
            body["id"] = bob
        return body

    code, output, app = run(tmp_path, alice_is_bob, "apply", "--yes")
    assert code == 1
    why = (
        f"Zoom gives the id {bob} to both bob@acme.test and alice@acme.test; not written: a "
        "write to that id would change another user's settings, so check both users in Zoom"
    )
    lines = output.splitlines()
    assert f"  ? user alice@acme.test: {why}" in lines
    assert f"  ? user bob@acme.test: {why}" in lines
    assert user_writes(app, alice, bob) == []


def _block(output: str, heading: str) -> list[str]:
    """The lines of one target's block in a plan's text."""
    lines = output.splitlines()
    start = lines.index(heading)
    end = lines.index("", start)
    return lines[start:end]


def test_a_file_named_with_the_kelvin_sign_manages_no_one_and_is_warned_of(
    tmp_path: Path,
) -> None:
    kelvin = "fran\u212a@acme.test"
    renamed = example(tmp_path / "renamed")
    (renamed / "users" / "frank@acme.test.yaml").rename(renamed / "users" / f"{kelvin}.yaml")
    removed = example(tmp_path / "removed")
    (removed / "users" / "frank@acme.test.yaml").unlink()

    code, output, _app = run(tmp_path / "renamed", lambda _path, body: body, "plan")
    assert code == 0
    assert output.splitlines()[-1] == (
        f"users/{kelvin}.yaml:1:1: warning: user: Zoom has no user fran\\u212a@acme.test, only "
        "the look-alike frank@acme.test (hint: emails match exactly but for ASCII case: rename "
        "the file if it is meant for frank@acme.test; skipped)"
    )
    # frank is planned from defaults.yaml and his groups alone, as if the file were not there.
    _code, without, _app = run(tmp_path / "removed", lambda _path, body: body, "plan")
    heading = "user frank@acme.test"
    assert _block(output, heading) == _block(without, heading)
