"""Users, groups and members: shapes, filters, paging."""

from __future__ import annotations

import httpx2
import pytest

from reconciler.sandbox import SandboxApp
from reconciler.sandbox.tenant import Tenant

from .conftest import AppFactory, FakeClock, api_client, ids, unlimited


async def page_through(api: httpx2.AsyncClient, url: str, key: str, **params: object) -> list[dict]:
    seen: list[dict] = []
    token = ""
    while True:
        query = {**params, **({"next_page_token": token} if token else {})}
        answer = await api.get(url, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(body[key])
        token = body["next_page_token"]
        if not token:
            return seen


@pytest.fixture
async def big(make_app: AppFactory, tenant_5000: Tenant) -> httpx2.AsyncClient:
    return await api_client(make_app(unlimited(), tenant_5000))


async def test_paging_5000_users_lists_every_user_exactly_once(
    big: httpx2.AsyncClient, tenant_5000: Tenant
) -> None:
    for status in ("active", "inactive", "pending"):
        listed = await page_through(big, "/v2/users", "users", status=status, page_size=300)
        expected = [u.email for u in tenant_5000.users if u.status == status]
        assert [u["email"] for u in listed] == expected
    await big.aclose()


async def test_page_size_defaults_to_30_and_is_clamped_to_300(
    big: httpx2.AsyncClient, tenant_5000: Tenant
) -> None:
    active = sum(1 for u in tenant_5000.users if u.status == "active")
    default = (await big.get("/v2/users")).json()
    clamped = (await big.get("/v2/users", params={"page_size": 1000})).json()
    await big.aclose()
    assert (default["page_size"], len(default["users"])) == (30, 30)
    assert (clamped["page_size"], len(clamped["users"])) == (300, 300)
    assert clamped["total_records"] == active
    assert clamped["page_count"] == -(-active // 300)
    assert default["page_number"] == 1


async def test_page_number_pages_without_tokens(big: httpx2.AsyncClient) -> None:
    second = (await big.get("/v2/users", params={"page_size": 10, "page_number": 2})).json()
    first_two = (await big.get("/v2/users", params={"page_size": 20})).json()
    await big.aclose()
    assert second["page_number"] == 2
    assert second["users"] == first_two["users"][10:]


async def test_foreign_forged_and_expired_page_tokens_are_refused(
    big: httpx2.AsyncClient, clock: FakeClock
) -> None:
    token = (await big.get("/v2/users", params={"status": "inactive"})).json()["next_page_token"]
    foreign = await big.get("/v2/users", params={"next_page_token": token})
    forged = await big.get("/v2/users", params={"next_page_token": "not-a-token"})
    clock.advance(15 * 60 + 1)
    expired = await big.get("/v2/users", params={"status": "inactive", "next_page_token": token})
    await big.aclose()
    for answer in (foreign, forged, expired):
        assert answer.status_code == 400
        assert answer.json() == {
            "code": 300,
            "message": "The next page token is invalid or expired.",
        }


async def test_pending_users_are_listed_without_an_id(big: httpx2.AsyncClient) -> None:
    pending = (await big.get("/v2/users", params={"status": "pending", "page_size": 5})).json()
    await big.aclose()
    assert pending["users"]
    assert all("id" not in user and user["status"] == "pending" for user in pending["users"])


async def test_list_entries_carry_group_ids(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    names = ids(app)
    users = (await api.get("/v2/users")).json()["users"]
    carol = next(u for u in users if u["email"] == "carol@acme.test")
    assert carol["group_ids"] == [names["Engineering"], names["Sales"]]
    assert carol["role_id"] == "2"
    assert [u["email"] for u in users if u["email"] == "oscar@acme.test"] == []


async def test_get_user_by_id_or_email(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    by_email = await api.get("/v2/users/ALICE@acme.test")
    by_id = await api.get(f"/v2/users/{ids(app)['alice']}")
    assert by_email.status_code == by_id.status_code == 200
    assert by_email.json() == by_id.json()
    assert by_id.json()["role_name"] == "Owner"
    assert by_id.json()["account_id"] == "sandbox-account"


async def test_unknown_user_is_1001(api: httpx2.AsyncClient) -> None:
    for url in ("/v2/users/nobody@acme.test", "/v2/users/nobody@acme.test/settings"):
        answer = await api.get(url)
        assert answer.status_code == 404
        assert answer.json() == {"code": 1001, "message": "User does not exist: nobody@acme.test."}


async def test_groups_list(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    names = ids(app)
    answer = await api.get("/v2/groups")
    assert answer.status_code == 200
    assert answer.json() == {
        "groups": [
            {"id": names["Engineering"], "name": "Engineering", "total_members": 4},
            {"id": names["Sales"], "name": "Sales", "total_members": 4},
            {"id": names["Support"], "name": "Support", "total_members": 5},
        ],
        "total_records": 3,
        "next_page_token": "",
    }


async def test_group_members_page_with_tokens(big: httpx2.AsyncClient, tenant_5000: Tenant) -> None:
    group_id = next(iter(tenant_5000.groups))
    members = await page_through(big, f"/v2/groups/{group_id}/members", "members", page_size=50)
    await big.aclose()
    expected = [u.id for u in tenant_5000.users if group_id in u.group_ids]
    assert [m["id"] for m in members] == expected
    assert set(members[0]) == {"id", "email", "first_name", "last_name", "type"}


async def test_unknown_group_is_4130(api: httpx2.AsyncClient) -> None:
    for url in ("members", "settings", "lock_settings"):
        answer = await api.get(f"/v2/groups/nope/{url}")
        assert answer.status_code == 404
        assert answer.json() == {"code": 4130, "message": "Group does not exist: nope."}
    patched = await api.patch("/v2/groups/nope/settings", json={})
    assert patched.json()["code"] == 4130


async def test_unknown_account_is_2001(api: httpx2.AsyncClient) -> None:
    settings = await api.get("/v2/accounts/other/settings")
    locks = await api.get("/v2/accounts/other/lock_settings")
    assert (settings.status_code, locks.status_code) == (404, 400)  # as the spec documents
    assert settings.json() == {"code": 2001, "message": "Account does not exist: other."}
    own = await api.get("/v2/accounts/sandbox-account/settings")
    assert own.json() == (await api.get("/v2/accounts/me/settings")).json()
