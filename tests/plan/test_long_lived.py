"""One process, one reader, many runs: what the reader keeps it keeps until `invalidate` drops
it (by holder, by target, the directory, or by age); and one process holding sessions on two
accounts at once.

Zoom changes between runs in the in-process sandbox that the session itself talks to: a lock
through the sandbox's HTTP API, a user's status in the tenant (the API has no route for it).
Bob's file turns chat off, as he has it; the account has it on. Once the account locks chat,
Zoom gives Bob the account's value: a plan that still holds the old lock documents sees a change
to make, one that reads them again sees it blocked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from reconciler.connect import Connector, Session
from reconciler.desired import DesiredState, load_repo
from reconciler.errors import CredentialsMissing
from reconciler.live import ACCOUNT, LiveReader
from reconciler.live.directory import USER_NOT_ACTIVE
from reconciler.plan.model import Plan
from reconciler.plan.run import make_plan
from reconciler.sandbox import SandboxApp, acme_tenant
from tests.plan.sandbox_repo import api_client, prepare_sandbox, recording

CHAT = ("in_meeting", "chat")
LOCKED = "locked by the account in Zoom (no file in this repo manages that lock)"


def _repo(root: Path) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("rate_tier: business\n", encoding="utf-8")
    (root / "users" / "bob@acme.test.yaml").write_text(
        "settings:\n  in_meeting:\n    chat: false\n", encoding="utf-8"
    )
    return root


def _bob(plan: Plan) -> list[tuple[str | None, tuple[str, ...], str, str | None]]:
    return [(c.target.email, c.path, c.status.value, c.reason) for c in plan.changes]


IN_SYNC: list[tuple[str | None, tuple[str, ...], str, str | None]] = []
PENDING = [("bob@acme.test", CHAT, "pending", None)]
BLOCKED = [("bob@acme.test", CHAT, "blocked", LOCKED)]


async def _lock_chat(app: SandboxApp) -> None:
    """The account locks in-meeting chat, as an admin would in Zoom's portal."""
    client = await api_client(app)
    try:
        body = {"in_meeting": {"chat": True}}
        answer = await client.patch("/v2/accounts/me/lock_settings", json=body)
        assert answer.status_code == 204, answer.text
    finally:
        await client.aclose()


@asynccontextmanager
async def _one_session(tmp_path: Path) -> AsyncIterator[tuple[DesiredState, Session, SandboxApp]]:
    """Bob's repo, its fresh sandbox, and one session on it (with the sandbox app it talks to)."""
    repo = _repo(tmp_path / "repo")
    await prepare_sandbox(repo)
    apps: list[SandboxApp] = []
    async with recording(apps).open(repo, tier=None, paced=False) as session:
        [app] = apps
        yield load_repo(repo), session, app


def _lock_reads(app: SandboxApp) -> int:
    entries = app.sandbox.journal.entries()
    return sum(e.method == "GET" and e.path == "/v2/accounts/me/lock_settings" for e in entries)


async def test_a_lock_added_in_zoom_is_seen_by_the_next_plan_only_after_invalidate(
    tmp_path: Path,
) -> None:
    async with _one_session(tmp_path) as (state, session, app):
        assert _bob(await make_plan(state, session)) == IN_SYNC
        reads = _lock_reads(app)
        assert reads == 2  # its two lock families, once each
        await _lock_chat(app)
        # The reader kept the account's lock documents: the second plan does not read them.
        assert _bob(await make_plan(state, session)) == PENDING
        assert _lock_reads(app) == reads
        session.reader.invalidate(holder=ACCOUNT)
        assert _bob(await make_plan(state, session)) == BLOCKED
        assert _lock_reads(app) == 2 * reads


async def test_invalidate_by_target_drops_the_account_as_a_lock_holder(tmp_path: Path) -> None:
    async with _one_session(tmp_path) as (state, session, app):
        await make_plan(state, session)
        await _lock_chat(app)
        session.reader.invalidate(target=("group", "no-such-group"))  # another holder: kept
        assert _bob(await make_plan(state, session)) == PENDING
        session.reader.invalidate(target=("account", ACCOUNT.id))
        assert _bob(await make_plan(state, session)) == BLOCKED


async def test_what_was_read_longer_ago_than_the_age_given_is_read_again(tmp_path: Path) -> None:
    now = [1000.0]
    async with _one_session(tmp_path) as (state, opened, app):
        session = dataclasses.replace(opened, reader=LiveReader(opened.zoom, clock=lambda: now[0]))
        assert _bob(await make_plan(state, session)) == IN_SYNC
        await _lock_chat(app)
        now[0] += 30
        session.reader.invalidate(older_than=60)  # read 30 s ago: kept
        assert _bob(await make_plan(state, session)) == PENDING
        now[0] += 31
        session.reader.invalidate(older_than=60)  # read 61 s ago: read again
        assert _bob(await make_plan(state, session)) == BLOCKED


async def _deactivate_bob(app: SandboxApp) -> None:
    user = app.sandbox.tenant.user("bob@acme.test")
    assert user is not None
    user.status = "inactive"


def _skipped(plan: Plan) -> list[str]:
    return [d.code for d in plan.skipped]


async def test_a_user_deactivated_in_zoom_is_seen_after_invalidating_the_directory(
    tmp_path: Path,
) -> None:
    async with _one_session(tmp_path) as (state, session, app):
        assert _skipped(await make_plan(state, session)) == []
        await _deactivate_bob(app)
        kept = await make_plan(state, session)  # the directory still has Bob active
        assert _skipped(kept) == []
        session.reader.invalidate(directory=True)
        fresh = await make_plan(state, session)
        assert _skipped(fresh) == [USER_NOT_ACTIVE]


async def test_invalidating_one_user_looks_them_up_again(tmp_path: Path) -> None:
    async with _one_session(tmp_path) as (state, session, app):
        await make_plan(state, session)
        await _deactivate_bob(app)
        session.reader.invalidate(target=("user", "someone-else"))
        assert _skipped(await make_plan(state, session)) == []
        bob = app.sandbox.tenant.user("bob@acme.test")
        assert bob is not None
        session.reader.invalidate(target=("user", bob.id))
        assert _skipped(await make_plan(state, session)) == [USER_NOT_ACTIVE]


# -- two accounts in one process ------------------------------------------------------------------


PENDING_ON = [("bob@acme.test", CHAT, "pending", None)]


async def _plan(session: Session, repo: Path) -> Plan:
    return await make_plan(load_repo(repo), session)


async def test_one_process_holds_sessions_on_two_accounts_at_once(tmp_path: Path) -> None:
    first_repo = _repo(tmp_path / "first")
    second_repo = _repo(tmp_path / "second")
    await prepare_sandbox(first_repo)
    second = acme_tenant()
    second.account.id = "second-account"
    bob = second.user("bob@acme.test")
    assert bob is not None
    bob.settings.family("general")[CHAT] = True  # in this account only
    await prepare_sandbox(second_repo, tenant=second)
    apps: list[SandboxApp] = []
    connector = recording(apps)
    async with (
        connector.open(first_repo, tier=None, paced=False) as one,
        connector.open(second_repo, tier=None, paced=False) as other,
    ):
        assert (one.account_id, other.account_id) == ("sandbox-account", "second-account")
        assert one.zoom is not other.zoom and one.reader is not other.reader
        first_plan, second_plan = await _plan(one, first_repo), await _plan(other, second_repo)
        # Interleaved: each session still reads its own account.
        again = await _plan(one, first_repo)
    assert (first_plan.account_id, second_plan.account_id) == ("sandbox-account", "second-account")
    assert (_bob(first_plan), _bob(second_plan), _bob(again)) == (IN_SYNC, PENDING_ON, IN_SYNC)
    assert [len(app.sandbox.journal.entries()) > 0 for app in apps] == [True, True]


# -- the account's credentials are a value ---------------------------------------------------------


async def test_a_connector_without_an_account_opens_nothing(tmp_path: Path) -> None:
    with pytest.raises(CredentialsMissing) as raised:
        async with Connector().open(tmp_path, tier=None):
            pass
    assert raised.value.message == "no Zoom account to connect to"
    assert not (tmp_path / ".reconciler").exists()


def test_from_env_reads_the_account_once_and_only_when_it_has_none() -> None:
    env = {
        "ZOOM_ACCOUNT_ID": "acct",
        "ZOOM_CLIENT_ID": "client",
        "ZOOM_CLIENT_SECRET": "hush",
        "ZOOM_API_URL": "http://127.0.0.1:9/v2",
    }
    found = Connector().from_env(env)
    assert found.zoom is not None
    assert (found.zoom.credentials.account_id, found.zoom.credentials.client_id) == (
        "acct",
        "client",
    )
    assert found.zoom.credentials.client_secret.reveal() == "hush"
    assert found.zoom.endpoints.api_url == "http://127.0.0.1:9/v2"
    assert found.from_env({}) is found  # has an account: the environment is not read again
    sandbox = Connector(sandbox=True)
    assert sandbox.from_env({}) is sandbox
    with pytest.raises(CredentialsMissing, match="ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID"):
        Connector().from_env({})
