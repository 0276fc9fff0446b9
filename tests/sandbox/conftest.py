"""Sandbox fixtures: apps over the Acme or a generated tenant, a steppable clock, API clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from reconciler.sandbox import (
    SandboxApp,
    SandboxConfig,
    SandboxTransport,
    acme_tenant,
    create_app,
    generate_tenant,
)
from reconciler.sandbox.tenant import Tenant

BASE = "http://sandbox.test"
TOKEN_PARAMS = {"grant_type": "account_credentials", "account_id": "sandbox-account"}
CREDENTIALS = ("sandbox-client", "sandbox-secret")
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def unlimited(**changes: Any) -> SandboxConfig:
    """A config with the rate limits off (and the given changes)."""
    base: dict[str, Any] = {"rate_limits": {"LIGHT": None, "MEDIUM": None, "HEAVY": None}}
    return SandboxConfig().with_changes({**base, **changes})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def tenant_5000() -> Tenant:
    return generate_tenant(users=5000, groups=12, seed=7)


AppFactory = Callable[..., SandboxApp]


@pytest.fixture
def make_app(clock: FakeClock) -> AppFactory:
    def make(config: SandboxConfig | None = None, tenant: Tenant | None = None) -> SandboxApp:
        return create_app(config or unlimited(), tenant or acme_tenant(), clock=clock)

    return make


async def token_for(client: httpx2.AsyncClient) -> str:
    answer = await client.post("/oauth/token", params=TOKEN_PARAMS, auth=CREDENTIALS)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def api_client(app: SandboxApp) -> httpx2.AsyncClient:
    """An authenticated client over the in-process transport (close it when done)."""
    client = httpx2.AsyncClient(transport=SandboxTransport(app), base_url=BASE)
    client.headers["Authorization"] = f"Bearer {await token_for(client)}"
    return client


@pytest.fixture
def app(make_app: AppFactory) -> SandboxApp:
    return make_app()


@pytest.fixture
async def api(app: SandboxApp) -> AsyncIterator[httpx2.AsyncClient]:
    client = await api_client(app)
    yield client
    await client.aclose()


def ids(app: SandboxApp) -> dict[str, str]:
    """Acme names -> ids: users by first name in lower case, groups by name."""
    tenant = app.sandbox.tenant
    found = {user.email.split("@")[0]: user.id for user in tenant.users}
    found.update({group.name: group.id for group in tenant.groups.values()})
    return found
