"""Server-to-Server OAuth and access tokens."""

from __future__ import annotations

import httpx2

from reconciler.sandbox import SandboxApp, SandboxConfig, SandboxTransport
from reconciler.sandbox.oauth import SCOPES

from .conftest import BASE, CREDENTIALS, TOKEN_PARAMS, AppFactory, FakeClock, api_client


def plain(app: SandboxApp) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=SandboxTransport(app), base_url=BASE)


async def test_token_answer_has_zooms_shape(app: SandboxApp) -> None:
    async with plain(app) as client:
        answer = await client.post("/oauth/token", params=TOKEN_PARAMS, auth=CREDENTIALS)
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 3600, SCOPES)
    assert body["api_url"] == BASE
    assert len(body["access_token"]) >= 40


async def test_form_encoded_grant_is_accepted(app: SandboxApp) -> None:
    async with plain(app) as client:
        answer = await client.post("/oauth/token", data=TOKEN_PARAMS, auth=CREDENTIALS)
    assert answer.status_code == 200


async def test_wrong_secret_is_invalid_client(app: SandboxApp) -> None:
    async with plain(app) as client:
        answer = await client.post(
            "/oauth/token", params=TOKEN_PARAMS, auth=("sandbox-client", "x")
        )
    assert answer.status_code == 401
    assert answer.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }


async def test_missing_basic_auth_is_invalid_client(app: SandboxApp) -> None:
    async with plain(app) as client:
        answer = await client.post("/oauth/token", params=TOKEN_PARAMS)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_wrong_account_is_invalid_request(app: SandboxApp) -> None:
    params = {**TOKEN_PARAMS, "account_id": "someone-else"}
    async with plain(app) as client:
        answer = await client.post("/oauth/token", params=params, auth=CREDENTIALS)
    assert answer.status_code == 400
    assert answer.json() == {"reason": "Invalid account_id", "error": "invalid_request"}


async def test_other_grant_types_are_refused(app: SandboxApp) -> None:
    params = {**TOKEN_PARAMS, "grant_type": "client_credentials"}
    async with plain(app) as client:
        answer = await client.post("/oauth/token", params=params, auth=CREDENTIALS)
    assert answer.status_code == 400
    assert answer.json() == {"reason": "unsupported grant type", "error": "unsupported_grant_type"}


async def test_configured_credentials_replace_the_defaults(make_app: AppFactory) -> None:
    app = make_app(SandboxConfig(client_id="c2", client_secret="s2"))
    async with plain(app) as client:
        old = await client.post("/oauth/token", params=TOKEN_PARAMS, auth=CREDENTIALS)
        new = await client.post("/oauth/token", params=TOKEN_PARAMS, auth=("c2", "s2"))
    assert (old.status_code, new.status_code) == (401, 200)


async def test_requests_without_a_token_get_code_124(app: SandboxApp) -> None:
    async with plain(app) as client:
        missing = await client.get("/v2/users")
        forged = await client.get("/v2/users", headers={"Authorization": "Bearer forged"})
    for answer in (missing, forged):
        assert answer.status_code == 401
        assert answer.json() == {"code": 124, "message": "Invalid access token."}
        assert "X-RateLimit-Limit" not in answer.headers


async def test_tokens_expire_after_the_configured_lifetime(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = make_app(SandboxConfig(token_lifetime=60))
    api = await api_client(app)
    assert (await api.get("/v2/users")).status_code == 200
    clock.advance(59.9)
    assert (await api.get("/v2/users")).status_code == 200
    clock.advance(0.1)
    expired = await api.get("/v2/users")
    await api.aclose()
    assert expired.status_code == 401
    assert expired.json() == {"code": 124, "message": "Access token is expired."}


async def test_revoked_tokens_are_invalid(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    assert (await api.delete("/_sandbox/tokens")).status_code == 204
    answer = await api.get("/v2/users")
    assert answer.status_code == 401
    assert answer.json() == {"code": 124, "message": "Invalid access token."}
