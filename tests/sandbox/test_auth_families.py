"""Authentication families: an `authentication_options` list on GET, one action on PATCH."""

from __future__ import annotations

from typing import Any

import httpx2

from reconciler.sandbox import SandboxApp

from .conftest import ids

ACCOUNT = "/v2/accounts/me/settings?option=meeting_authentication"
ERIN = "/v2/users/erin@acme.test/settings?option=meeting_authentication"


async def read(api: httpx2.AsyncClient, url: str) -> dict[str, Any]:
    answer = await api.get(url)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {option["name"]: option for option in doc["authentication_options"]}


async def test_options_are_read_as_a_list(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    account = await read(api, ACCOUNT)
    options = app.sandbox.tenant.account.auth_options["meeting_authentication"]
    assert account == {
        "allow_authentication_exception": account["allow_authentication_exception"],
        "meeting_authentication": False,
        "authentication_options": options,
    }
    assert [o["type"] for o in options] == ["enforce_login", "enforce_login_with_domains"]
    user = await read(api, ERIN)
    assert set(user) == {
        "allow_authentication_exception",
        "meeting_authentication",
        "authentication_options",
    }
    assert user["authentication_options"] == options


async def test_account_adds_updates_and_deletes_options(api: httpx2.AsyncClient) -> None:
    add = {
        "action": "add",
        "name": "Partners",
        "type": "enforce_login_with_domains",
        "domains": "p.test",
    }
    assert (await api.patch(ACCOUNT, json={"authentication_option": add})).status_code == 204
    added = by_name(await read(api, ACCOUNT))["Partners"]
    assert added == {
        "id": added["id"],
        "name": "Partners",
        "type": "enforce_login_with_domains",
        "domains": "p.test",
        "default_option": False,
        "visible": True,
    }
    update = {"action": "update", "id": added["id"], "domains": "q.test", "default_option": True}
    await api.patch(ACCOUNT, json={"authentication_option": update, "meeting_authentication": True})
    doc = await read(api, ACCOUNT)
    assert doc["meeting_authentication"] is True
    assert [(o["name"], o["default_option"]) for o in doc["authentication_options"]] == [
        ("Sign in to Zoom", False),
        ("Sign in to Zoom with specified domains", False),
        ("Partners", True),
    ]
    assert by_name(await read(api, ERIN))["Partners"]["domains"] == "q.test"
    delete = {"action": "delete", "id": added["id"]}
    await api.patch(ACCOUNT, json={"authentication_option": delete})
    assert "Partners" not in by_name(await read(api, ACCOUNT))


async def test_groups_and_users_show_hide_and_choose_a_default(
    app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    options = app.sandbox.tenant.account.auth_options["meeting_authentication"]
    first, second = options[0]["id"], options[1]["id"]
    sales = f"/v2/groups/{ids(app)['Sales']}/settings?option=meeting_authentication"
    hide = {"authentication_option": {"action": "hide", "id": second}}
    assert (await api.patch(sales, json=hide)).status_code == 204
    assert [o["visible"] for o in (await read(api, sales))["authentication_options"]] == [
        True,
        False,
    ]
    assert [o["visible"] for o in (await read(api, ERIN))["authentication_options"]] == [
        True,
        False,
    ]
    show = {"authentication_option": {"action": "show", "id": second}}
    default = {"authentication_option": {"action": "update", "id": second, "default_option": True}}
    await api.patch(ERIN, json=show)
    await api.patch(ERIN, json=default)
    mine = (await read(api, ERIN))["authentication_options"]
    assert [(o["id"], o["visible"], o["default_option"]) for o in mine] == [
        (first, True, False),
        (second, True, True),
    ]
    account = (await read(api, ACCOUNT))["authentication_options"]
    assert [o["default_option"] for o in account] == [True, False]  # the account is untouched


async def test_actions_outside_the_level_are_refused(api: httpx2.AsyncClient) -> None:
    add = {"authentication_option": {"action": "add", "name": "x", "type": "enforce_login"}}
    answer = await api.patch(ERIN, json=add)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 300,
        "message": "Validation Failed. Invalid field: authentication_option.action.",
        "errors": [
            {
                "field": "authentication_option.action",
                "message": "'add' is not one of ['update', 'show', 'hide']",
            }
        ],
    }


async def test_unknown_option_ids_are_refused(api: httpx2.AsyncClient) -> None:
    answer = await api.patch(ERIN, json={"authentication_option": {"action": "hide", "id": "nope"}})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 300,
        "message": "Validation Failed. Invalid field: authentication_option.id.",
        "errors": [
            {
                "field": "authentication_option.id",
                "message": "Authentication option does not exist: nope.",
            }
        ],
    }


async def test_the_options_list_is_get_only(api: httpx2.AsyncClient) -> None:
    before = await read(api, ERIN)
    answer = await api.patch(ERIN, json={"authentication_options": []})
    assert answer.status_code == 204
    assert await read(api, ERIN) == before


async def test_recording_authentication_family(api: httpx2.AsyncClient) -> None:
    url = "/v2/users/erin@acme.test/settings?option=recording_authentication"
    doc = await read(api, url)
    assert set(doc) == {"recording_authentication", "authentication_options"}
    assert doc["authentication_options"][0]["type"] == "internally"
    assert (await api.patch(url, json={"recording_authentication": True})).status_code == 204
    assert (await read(api, url))["recording_authentication"] is True
