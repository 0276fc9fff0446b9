"""A settings repo beside a fresh Acme sandbox, shaped through the sandbox's own HTTP API.

`prepare(repo, setup)` writes `<repo>/.reconciler/sandbox.json` (the file `--sandbox` reads) and
sends the setup requests to that sandbox. Paths may name targets by placeholder: `{user:alice}`
is Alice's id, `{group:Sales}` the Sales group's id, `{option:FAMILY:NAME}` the id of the
account's authentication option NAME in FAMILY.

Zoom can fail one read in ways the sandbox config cannot aim at a single target (a user deleted
between listing and reading). `failing_reads(rules)` stands in for that, at the HTTP boundary: it
wraps the sandbox app so that requests matching a rule get the rule's Zoom error instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from reconciler.apply.report import ApplyReport
from reconciler.apply.run import ApplySettings, check_plan, run_apply
from reconciler.connect import Connector, sandbox_state_path
from reconciler.desired import load_repo
from reconciler.plan.model import Plan, Request
from reconciler.plan.run import make_plan, scope_for
from reconciler.sandbox import SandboxApp, SandboxConfig, SandboxTransport, acme_tenant, create_app
from reconciler.sandbox.journal import Entry
from reconciler.sandbox.state import load_state, save_state
from reconciler.sandbox.tenant import Tenant
from reconciler.zoom import Credentials, Endpoints, Secret, ZoomClient

BASE = "http://127.0.0.1"
TOKEN_PARAMS = {"grant_type": "account_credentials", "account_id": "sandbox-account"}
CREDENTIALS = ("sandbox-client", "sandbox-secret")
SANDBOX = Connector(sandbox=True)
_PLACEHOLDER = re.compile(r"\{(user|group|option):([^}]+)\}")


def fill_in(text: str, tenant: Tenant) -> str:
    """`text` with its placeholders replaced by the tenant's ids."""

    def one(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "option":
            family, _, option = name.partition(":")
            options = tenant.account.auth_options[family]
            return next(str(o["id"]) for o in options if o["name"] == option)
        if kind == "user":
            user = tenant.user(name if "@" in name else f"{name}@acme.test")
            assert user is not None, f"no user {name} in the sandbox"
            return user.id
        found = [g.id for g in tenant.groups.values() if g.name == name]
        assert found, f"no group {name} in the sandbox"
        return found[0]

    return _PLACEHOLDER.sub(one, text)


def open_app(repo: Path) -> SandboxApp:
    """The sandbox of `repo` as `--sandbox` would run it (changes are saved to its state file)."""
    state = sandbox_state_path(repo)
    tenant, config = load_state(state)
    return create_app(config, tenant, state_path=state)


async def api_client(app: SandboxApp) -> httpx2.AsyncClient:
    client = httpx2.AsyncClient(transport=SandboxTransport(app), base_url=BASE)
    answer = await client.post("/oauth/token", params=TOKEN_PARAMS, auth=CREDENTIALS)
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client


async def send_all(app: SandboxApp, requests: list[dict[str, Any]]) -> None:
    client = await api_client(app)
    try:
        for item in requests:
            path = fill_in(item["path"], app.sandbox.tenant)
            body = json.loads(fill_in(json.dumps(item.get("body")), app.sandbox.tenant))
            answer = await client.request(item["method"], path, params=item.get("query"), json=body)
            assert answer.status_code < 300, f"setup {item}: {answer.status_code} {answer.text}"
    finally:
        await client.aclose()


async def prepare_sandbox(
    repo: Path,
    setup: list[dict[str, Any]] | None = None,
    tenant: Tenant | None = None,
    config: SandboxConfig | None = None,
) -> None:
    """A fresh sandbox for `repo` (Acme unless `tenant` is given), shaped by `setup`."""
    state = sandbox_state_path(repo)
    state.parent.mkdir(parents=True, exist_ok=True)
    save_state(state, tenant or acme_tenant(), config or SandboxConfig())
    if setup:
        await send_all(open_app(repo), setup)


def prepare(repo: Path, setup: list[dict[str, Any]] | None = None) -> None:
    asyncio.run(prepare_sandbox(repo, setup))


# -- a read that fails for one target ------------------------------------------------------------


@dataclass(frozen=True)
class FailRule:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: dict[str, Any]

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        wanted = query.items() >= self.query.items()
        return method == self.method and path == self.path and wanted


class FailingReads:
    """An ASGI wrapper: a matching request gets the rule's error; the rest go to the sandbox."""

    def __init__(self, app: SandboxApp, rules: list[FailRule]) -> None:
        self.app = app
        self.sandbox = app.sandbox
        self.rules = rules

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = dict(httpx2.QueryParams(scope.get("query_string", b"").decode()))
            for rule in self.rules:
                if rule.matches(scope["method"], scope["path"], query):
                    await _answer(send, rule.status, rule.body)
                    return
        await self.app(scope, receive, send)


async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def failing_reads(
    repo: Path, rules: list[dict[str, Any]], connector: Connector = SANDBOX
) -> Connector:
    """A `--sandbox` connector for `repo` whose sandbox answers requests matching `rules` with
    errors (pass it as the CLI's `obj`, or open a session with it)."""
    tenant, _config = load_state(sandbox_state_path(repo))
    parsed = [
        FailRule(
            rule.get("method", "GET"),
            fill_in(rule["path"], tenant),
            rule.get("query", {}),
            rule["status"],
            json.loads(fill_in(json.dumps(rule["body"]), tenant)),
        )
        for rule in rules
    ]
    inner = connector.sandbox_app
    return dataclasses.replace(connector, sandbox_app=lambda app: FailingReads(inner(app), parsed))


# -- a settings repo in git ---------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@acme.test", *args],
        capture_output=True,
        check=True,
        text=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A", ".")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def git_repo(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text(".reconciler/\n", encoding="utf-8")


# -- talking to a repo's sandbox with the real client --------------------------------------------


@asynccontextmanager
async def sandbox_client(app: SandboxApp) -> AsyncIterator[ZoomClient]:
    """A ZoomClient (unpaced) over `app`, in-process."""
    config = app.sandbox.config
    credentials = Credentials(
        app.sandbox.tenant.account.id, config.client_id, Secret(config.client_secret)
    )
    endpoints = Endpoints(f"{BASE}/v2", f"{BASE}/oauth/token")
    async with ZoomClient(credentials, endpoints, transport=SandboxTransport(app)) as zoom:
        yield zoom


async def send_requests(repo: Path, requests: list[Request]) -> list[Entry]:
    """Send `requests` to the repo's sandbox with the client and keep the result; the journal."""
    path = sandbox_state_path(repo)
    tenant, config = load_state(path)
    app = create_app(config, tenant)  # saved once at the end, not after every PATCH
    async with sandbox_client(app) as zoom:
        for request in requests:
            await zoom.request(
                request.method, request.path, params=request.query or None, json=request.body
            )
    save_state(path, app.sandbox.tenant, app.sandbox.config)
    return app.sandbox.journal.entries()


def recording(apps: list[SandboxApp]) -> Connector:
    """A `--sandbox` connector that keeps every sandbox app it serves in `apps`, to read their
    journals."""

    def keep(app: SandboxApp) -> SandboxApp:
        apps.append(app)
        return app

    return Connector(sandbox=True, sandbox_app=keep)


async def plan_repo(
    repo: Path,
    *selectors: str,
    changed_since: str | None = None,
    rate: float | None = None,
    paced: bool = True,
    connector: Connector = SANDBOX,
) -> Plan:
    """Plan `repo` as the CLI does, on one session opened with `connector`."""
    state = load_repo(repo)
    tier = state.options.rate_tier
    async with connector.open(repo, tier=tier, rate=rate, paced=paced) as session:
        return await make_plan(state, session, scope_for(state, selectors, changed_since))


async def apply_plan(
    plan: Plan,
    repo: Path,
    audit_log: Path,
    *,
    rate: float | None = None,
    compare_and_set: bool = False,
    connector: Connector = SANDBOX,
) -> ApplyReport:
    """Apply `plan` to `repo`'s Zoom as the CLI does, on a session of its own."""
    state = load_repo(repo)
    settings = ApplySettings(audit_log, "test-run", saved_plan=compare_and_set)
    async with connector.open(repo, tier=state.options.rate_tier, rate=rate) as session:
        checked = await check_plan(plan, state, session, settings)
        return await run_apply(checked, state, session)


def api_calls(entries: list[Entry]) -> list[Entry]:
    """The journal's /v2 entries (not the token requests)."""
    return [entry for entry in entries if entry.path.startswith("/v2/")]
