"""Apply tests run the real CLI against the sandbox served by uvicorn on 127.0.0.1.

`served` is the sandbox: its journal shows what apply sent, and `admin` is another Zoom admin
who changes settings over the same API between plan and apply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.sandbox import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxApp,
    SandboxConfig,
    acme_tenant,
    create_app,
    running_sandbox,
)
from reconciler.sandbox.journal import Entry
from reconciler.sandbox.tenant import Tenant


def zoom_env(url: str) -> dict[str, str]:
    return {
        "ZOOM_API_URL": f"{url}/v2",
        "ZOOM_OAUTH_URL": f"{url}/oauth/token",
        "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
        "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ZOOM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }


def admin_client(url: str, operator: str | None = None) -> httpx2.Client:
    """Another admin of the same account, talking to the sandbox over HTTP (`operator`: who
    the sandbox's webhooks say made its writes)."""
    client = httpx2.Client(base_url=f"{url}/v2", timeout=10)
    answer = client.post(
        f"{url}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": DEFAULT_ACCOUNT_ID},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    if operator:
        client.headers["X-Sandbox-Operator"] = operator
    return client


@dataclass
class Served:
    app: SandboxApp
    url: str
    admin: httpx2.Client

    @property
    def tenant(self) -> Tenant:
        return self.app.sandbox.tenant

    def user_id(self, email: str) -> str:
        user = self.tenant.user(email)
        assert user is not None
        return user.id

    def entries(self) -> list[Entry]:
        return [e for e in self.app.sandbox.journal.entries() if e.path.startswith("/v2/")]

    def patches(self) -> list[Entry]:
        return [entry for entry in self.entries() if entry.method == "PATCH"]

    def calls(self) -> list[tuple[str, str, str]]:
        """(method, path without /v2, option) of every API request, in order."""
        return [
            (e.method, e.path.removeprefix("/v2"), e.query.get("option", ""))
            for e in self.entries()
        ]

    def settle(self) -> None:
        """Wait until the journal stops growing: the server journals after it has answered."""
        journal, seen, quiet = self.app.sandbox.journal, -1, 0
        while quiet < 3:
            quiet = quiet + 1 if len(journal) == seen else 0
            seen = len(journal)
            time.sleep(0.02)

    def forget(self) -> None:
        """Clear the journal: what follows is what the next command sent."""
        self.settle()
        self.app.sandbox.journal.clear()

    def change(self, path: str, body: dict[str, Any], option: str | None = None) -> None:
        """Another admin PATCHes Zoom (not journaled as apply's)."""
        params = {"option": option} if option else None
        answer = self.admin.patch(path, params=params, json=body)
        assert answer.status_code == 204, answer.text
        self.forget()

    def configure(self, **changes: Any) -> None:
        self.app.sandbox.reconfigure(changes)


@contextmanager
def serving(
    monkeypatch: pytest.MonkeyPatch,
    tenant: Tenant,
    config: SandboxConfig | None = None,
    wrap: Callable[[SandboxApp], Any] | None = None,
) -> Iterator[Served]:
    """Serve `tenant` on 127.0.0.1 and point the ZOOM_* variables at it; `wrap` stands an ASGI
    app in front of the sandbox (another admin acting mid-run, say)."""
    app = create_app(config or SandboxConfig(), tenant)
    served = wrap(app) if wrap else app
    with running_sandbox(served) as url, closing(admin_client(url)) as admin:
        for name, value in zoom_env(url).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NO_COLOR", "1")
        yield Served(app, url, admin)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The Acme tenant, with Zoom's Business rate limits."""
    with serving(monkeypatch, acme_tenant()) as found:
        yield found


def reconciler(*args: str | Path) -> Result:
    """Run the CLI in-process; stdin is not a terminal."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def audit_lines(repo: Path) -> list[dict[str, Any]]:
    path = repo / ".reconciler" / "audit.log"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
