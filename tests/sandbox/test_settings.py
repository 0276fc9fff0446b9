"""Settings: inheritance, locks, PATCH validation and shapes, custom_query_fields."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from reconciler.sandbox import SandboxApp
from reconciler.sandbox.shapes import settings_shape

from .conftest import AppFactory, api_client, ids, unlimited

USER = "/v2/users/{}@acme.test/settings"


async def general(api: httpx2.AsyncClient, url: str) -> dict[str, Any]:
    answer = await api.get(url)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def pick(doc: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        doc = doc[key]
    return doc


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("alice", "in_meeting.chat", True),  # account
        ("bob", "in_meeting.chat", False),  # user override
        ("alice", "in_meeting.file_transfer", True),  # Engineering over the account's False
        ("carol", "in_meeting.file_transfer", True),  # primary group is the first of group_ids
        ("carol", "schedule_meeting.host_video", False),  # Sales is not carol's primary group
        ("erin", "schedule_meeting.host_video", True),  # Sales over the account
        ("frank", "schedule_meeting.host_video", False),  # user over Sales
        ("dave", "recording.cloud_recording", True),  # Engineering locks it: dave's False loses
        ("heidi", "in_meeting.screen_sharing", False),  # Support locks it: heidi's True loses
        ("mallory", "schedule_meeting.join_before_host", False),  # account lock, no group
    ],
)
async def test_effective_values(
    api: httpx2.AsyncClient, name: str, field: str, expected: bool
) -> None:
    assert pick(await general(api, USER.format(name)), field) is expected


async def test_group_settings_inherit_the_account(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    sales = await general(api, f"/v2/groups/{ids(app)['Sales']}/settings")
    support = await general(api, f"/v2/groups/{ids(app)['Support']}/settings")
    assert pick(sales, "schedule_meeting.host_video") is True
    assert pick(support, "schedule_meeting.host_video") is False
    assert pick(support, "in_meeting.screen_sharing") is False


async def test_account_changes_reach_users_without_their_own_value(api: httpx2.AsyncClient) -> None:
    answer = await api.patch("/v2/accounts/me/settings", json={"in_meeting": {"chat": False}})
    assert (answer.status_code, answer.content) == (204, b"")
    assert pick(await general(api, USER.format("alice")), "in_meeting.chat") is False
    await api.patch("/v2/accounts/me/settings", json={"in_meeting": {"chat": True}})
    assert pick(await general(api, USER.format("alice")), "in_meeting.chat") is True
    assert pick(await general(api, USER.format("bob")), "in_meeting.chat") is False


async def test_an_account_lock_also_binds_groups(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    sales = f"/v2/groups/{ids(app)['Sales']}/settings"
    body = {"schedule_meeting": {"join_before_host": True}}
    assert (await api.patch(sales, json=body)).status_code == 204
    assert pick(await general(api, sales), "schedule_meeting.join_before_host") is False
    assert (
        pick(await general(api, USER.format("erin")), "schedule_meeting.join_before_host") is False
    )


async def test_locking_through_the_api_binds_members(
    app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    locks = f"/v2/groups/{ids(app)['Sales']}/lock_settings"
    assert (await api.patch(locks, json={"in_meeting": {"chat": True}})).status_code == 204
    assert pick(await general(api, locks), "in_meeting.chat") is True
    await api.patch(USER.format("erin"), json={"in_meeting": {"chat": False}})
    assert pick(await general(api, USER.format("erin")), "in_meeting.chat") is True
    assert (await api.patch(locks, json={"in_meeting": {"chat": False}})).status_code == 204
    assert pick(await general(api, USER.format("erin")), "in_meeting.chat") is True  # was dropped
    await api.patch(USER.format("erin"), json={"in_meeting": {"chat": False}})
    assert pick(await general(api, USER.format("erin")), "in_meeting.chat") is False


async def test_lock_documents(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    account = await general(api, "/v2/accounts/me/lock_settings")
    security = await general(api, "/v2/accounts/me/lock_settings?option=meeting_security")
    group = await general(api, f"/v2/groups/{ids(app)['Support']}/lock_settings")
    assert pick(account, "schedule_meeting.join_before_host") is True
    assert pick(account, "in_meeting.chat") is False
    assert pick(security, "meeting_security.waiting_room") is True
    assert pick(group, "in_meeting.screen_sharing") is True
    assert pick(group, "schedule_meeting.join_before_host") is False  # the group's own locks only


async def test_locked_patch_ignore_drops_only_the_locked_field(api: httpx2.AsyncClient) -> None:
    body = {"recording": {"cloud_recording": False}, "in_meeting": {"chat": False}}
    answer = await api.patch(USER.format("alice"), json=body)
    assert (answer.status_code, answer.content) == (204, b"")
    doc = await general(api, USER.format("alice"))
    assert (pick(doc, "recording.cloud_recording"), pick(doc, "in_meeting.chat")) == (True, False)


async def test_locked_patch_error_names_the_field_and_owner(make_app: AppFactory) -> None:
    app = make_app(unlimited(locked_patch="error"))
    api = await api_client(app)
    group = ids(app)["Engineering"]
    body = {"recording": {"cloud_recording": False}, "in_meeting": {"chat": False}}
    by_group = await api.patch(USER.format("alice"), json=body)
    by_account = await api.patch(
        USER.format("alice"), json={"schedule_meeting": {"join_before_host": True}}
    )
    doc = await general(api, USER.format("alice"))
    await api.aclose()
    assert by_group.status_code == 400
    assert by_group.json() == {
        "code": 300,
        "message": f"Setting recording.cloud_recording is locked by the group Engineering ({group})"
        " and cannot be changed.",
    }
    assert by_account.json() == {
        "code": 300,
        "message": "Setting schedule_meeting.join_before_host is locked by the account "
        "sandbox-account and cannot be changed.",
    }
    assert pick(doc, "in_meeting.chat") is True  # the whole PATCH was refused


async def test_get_only_fields_are_ignored_on_patch(api: httpx2.AsyncClient) -> None:
    get, patch = (
        settings_shape("user", "general", "get"),
        settings_shape("user", "general", "patch"),
    )
    get_only = next(path for path in get.leaves if path not in patch.leaves and len(path) == 2)
    before = pick(await general(api, USER.format("erin")), ".".join(get_only))
    body = {get_only[0]: {get_only[1]: "not even the right type"}, "in_meeting": {"chat": False}}
    answer = await api.patch(USER.format("erin"), json=body)
    doc = await general(api, USER.format("erin"))
    assert answer.status_code == 204
    assert (pick(doc, ".".join(get_only)), pick(doc, "in_meeting.chat")) == (before, False)


async def test_arrays_are_replaced_whole(api: httpx2.AsyncClient) -> None:
    url = USER.format("ivan")
    await api.patch(url, json={"in_meeting": {"data_center_regions": ["US", "DE"]}})
    await api.patch(url, json={"in_meeting": {"data_center_regions": ["CA"]}})
    assert pick(await general(api, url), "in_meeting.data_center_regions") == ["CA"]
    security = url + "?option=meeting_security"
    await api.patch(
        security, json={"meeting_security": {"block_user_domain_list": ["a.test", "b.test"]}}
    )
    await api.patch(security, json={"meeting_security": {"block_user_domain_list": []}})
    assert pick(await general(api, security), "meeting_security.block_user_domain_list") == []


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"in_meeting": {"chat": "yes"}}, "in_meeting.chat", "'yes' is not of type 'boolean'"),
        (
            {"in_meeting": {"chatty": True}},
            "in_meeting.chatty",
            "Additional properties are not allowed ('chatty' was unexpected)",
        ),
        (
            {"recording": {"auto_recording": "tape"}},
            "recording.auto_recording",
            "'tape' is not one of ['local', 'cloud', 'none']",
        ),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    api: httpx2.AsyncClient, body: dict[str, Any], field: str, detail: str
) -> None:
    answer = await api.patch(USER.format("grace"), json=body)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 300,
        "message": f"Validation Failed. Invalid field: {field}.",
        "errors": [{"field": field, "message": detail}],
    }


async def test_bodies_that_are_not_json_objects_are_refused(api: httpx2.AsyncClient) -> None:
    for content in (b"{not json", b"[1, 2]"):
        answer = await api.patch(USER.format("grace"), content=content)
        assert answer.status_code == 400
        assert answer.json() == {
            "code": 300,
            "message": "Request Body should be a valid JSON object.",
        }


async def test_unknown_option_is_refused(api: httpx2.AsyncClient) -> None:
    answer = await api.get(USER.format("grace"), params={"option": "security"})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 300,
        "message": "Invalid parameter: option. Unsupported option: security.",
    }


async def test_basic_users_cannot_enable_licensed_features(
    app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    user = app.sandbox.tenant.user("grace@acme.test")
    assert user is not None
    user.type = 1
    answer = await api.patch(USER.format("grace"), json={"feature": {"webinar": True}})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 1122,
        "message": "Webinar feature can only be enabled for Licensed or On-prem users.",
    }


async def test_custom_query_fields(api: httpx2.AsyncClient) -> None:
    url = USER.format("erin")
    both = await general(api, url + "?custom_query_fields=host_video,chat")
    section = await general(api, url + "?custom_query_fields=recording")
    nothing = await general(api, url + "?custom_query_fields=no_such_field")
    full = await general(api, url)
    assert both == {"in_meeting": {"chat": True}, "schedule_meeting": {"host_video": True}}
    assert section == {"recording": full["recording"]}
    assert nothing == {}


async def test_values_that_do_not_fit_a_lower_level_are_not_inherited(
    api: httpx2.AsyncClient,
) -> None:
    """Zoom types tsp.call_out_countries as strings for accounts, as objects for users."""
    before = pick(await general(api, USER.format("erin")), "tsp.call_out_countries")
    answer = await api.patch(
        "/v2/accounts/me/settings", json={"tsp": {"call_out_countries": ["US"]}}
    )
    assert answer.status_code == 204
    account = await general(api, "/v2/accounts/me/settings")
    assert pick(account, "tsp.call_out_countries") == ["US"]
    assert pick(await general(api, USER.format("erin")), "tsp.call_out_countries") == before


async def test_writes_that_cannot_be_read_back_are_ignored(api: httpx2.AsyncClient) -> None:
    """Zoom's account lock PATCH types encryption_type as a string, its GET as a boolean."""
    url = "/v2/accounts/me/lock_settings?option=meeting_security"
    before = await general(api, url)
    body = {"meeting_security": {"encryption_type": "e2ee", "auto_security": True}}
    assert (await api.patch(url, json=body)).status_code == 204
    after = await general(api, url)
    assert (
        after["meeting_security"]["encryption_type"]
        is before["meeting_security"]["encryption_type"]
    )
    assert after["meeting_security"]["auto_security"] is True
