"""Every settings and lock GET of a generated 1,000-user tenant validates against the derived
GET schema, at every level and for every family."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import jsonschema
import pytest

from reconciler.sandbox import SandboxApp, generate_tenant
from reconciler.sandbox.state import tenant_to_dict
from reconciler.schemas import zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import FAMILIES, LOCK_FAMILIES

from .conftest import AppFactory, api_client, unlimited


def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


async def check(api: httpx2.AsyncClient, url: str, params: dict[str, str], schema: Any) -> None:
    answer = await api.get(url, params=params)
    assert answer.status_code == 200, (url, params, answer.text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema.iter_errors(answer.json())]
    assert errors == [], (url, params)


@pytest.fixture(scope="module")
def tenant_1000() -> Any:
    return generate_tenant(users=1000, groups=10, seed=42)


@pytest.fixture
def app_1000(make_app: AppFactory, tenant_1000: Any) -> SandboxApp:
    return make_app(unlimited(), tenant_1000)


@pytest.mark.parametrize("family", FAMILIES)
async def test_every_user_settings_get_validates(app_1000: SandboxApp, family: str) -> None:
    schema = validator(zoom_settings_schema("user", family, "get"))  # type: ignore[arg-type]
    params = {} if family == "general" else {"option": family}
    api = await api_client(app_1000)
    for user in app_1000.sandbox.tenant.users:
        await check(api, f"/v2/users/{user.email}/settings", params, schema)
    await api.aclose()


@pytest.mark.parametrize("family", FAMILIES)
async def test_group_and_account_settings_get_validate(app_1000: SandboxApp, family: str) -> None:
    params = {} if family == "general" else {"option": family}
    group_schema = validator(zoom_settings_schema("group", family, "get"))  # type: ignore[arg-type]
    account_schema = validator(zoom_settings_schema("account", family, "get"))  # type: ignore[arg-type]
    api = await api_client(app_1000)
    for group_id in app_1000.sandbox.tenant.groups:
        await check(api, f"/v2/groups/{group_id}/settings", params, group_schema)
    await check(api, "/v2/accounts/me/settings", params, account_schema)
    await api.aclose()


@pytest.mark.parametrize("family", LOCK_FAMILIES)
async def test_lock_settings_get_validate(app_1000: SandboxApp, family: str) -> None:
    params = {} if family == "general" else {"option": family}
    group_schema = validator(zoom_lock_schema("group", family, "get"))  # type: ignore[arg-type]
    api = await api_client(app_1000)
    for group_id in app_1000.sandbox.tenant.groups:
        await check(api, f"/v2/groups/{group_id}/lock_settings", params, group_schema)
    account_schema = validator(zoom_lock_schema("account", family, "get"))  # type: ignore[arg-type]
    await check(api, "/v2/accounts/me/lock_settings", params, account_schema)
    await api.aclose()


def test_generation_is_deterministic_and_fast() -> None:
    started = time.process_time()
    big = generate_tenant(users=5000, groups=20, seed=9)
    assert time.process_time() - started < 2.0
    assert tenant_to_dict(generate_tenant(users=50, seed=9)) == tenant_to_dict(
        generate_tenant(users=50, seed=9)
    )
    assert tenant_to_dict(generate_tenant(users=50, seed=9)) != tenant_to_dict(
        generate_tenant(users=50, seed=10)
    )
    assert big.users[42].email == "user00042@example.test"
    statuses = {u.status for u in big.users}
    assert statuses == {"active", "inactive", "pending"}
    assert any(u.settings.values for u in big.users)
    assert any(v for flat in big.account.locks.values() for v in flat.values() if v is True)
