"""Webhooks: the sandbox sends Zoom's signed event notifications for settings and lock writes.

The receiver is a real HTTP server on 127.0.0.1 (a thread) that records each request and answers
what the test tells it to; the sandbox runs in-process, its senders on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from reconciler.sandbox import SandboxApp, save_state
from reconciler.sandbox.cli import sandbox as sandbox_cli
from reconciler.sandbox.webhook_events import body_bytes

from .conftest import (
    CREDENTIALS,
    START,
    TOKEN_PARAMS,
    AppFactory,
    FakeClock,
    api_client,
    ids,
    unlimited,
)

SECRET = "whsec-test-token"
INTRUDER = "intruder@example.test"
INTRUDER_ID = "NkSDGMkGe4ypOE0Jk6Wo-G"  # stable: the same in every run
ALICE = ("alice@acme.test", "haZKDg43ZzK-kgOrUpRCTw")  # the Acme owner: the default operator
AT_MS = int(START * 1000)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next of `statuses` (then 200); records every request."""

    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    hold: threading.Event | None = None
    validation_answer: dict[str, str] | None = None
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self, request: Received) -> tuple[int, bytes]:
        self.requests.append(request)
        if self.hold is not None:
            self.hold.wait(10)
        if self.delays:
            threading.Event().wait(self.delays.pop(0))
        document = request.json()
        if document.get("event") == "endpoint.url_validation":
            plain = document["payload"]["plainToken"]
            token = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
            answer = self.validation_answer or {"plainToken": plain, "encryptedToken": token}
            return 200, json.dumps(answer).encode()
        status = self.statuses.pop(0) if self.statuses else 200
        return status, b"{}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            got = Received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            status, body = state.answer(got)
            with contextlib.suppress(OSError):  # a sender that timed out has hung up
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/zoom/events"
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()


def hooked(receiver: Receiver, **webhook: Any) -> Any:
    return unlimited(
        webhook={"url": receiver.url, "secret": SECRET, "retry_scale": 0.00002, **webhook}
    )


@pytest.fixture
async def hooked_app(make_app: AppFactory, receiver: Receiver) -> AsyncIterator[SandboxApp]:
    app = make_app(hooked(receiver))
    yield app
    await app.sandbox.webhooks.aclose()


@pytest.fixture
async def api(hooked_app: SandboxApp) -> AsyncIterator[httpx2.AsyncClient]:
    client = await api_client(hooked_app)
    yield client
    await client.aclose()


def expected_signature(timestamp: str, body: bytes) -> str:
    message = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


async def patch(
    api: httpx2.AsyncClient, url: str, body: Any, operator: str | None = None
) -> httpx2.Response:
    headers = {"content-type": "application/json"}
    if operator is not None:
        headers["X-Sandbox-Operator"] = operator
    return await api.patch(url, content=json.dumps(body), headers=headers)  # ASCII, escaped


# exact events -------------------------------------------------------------------


async def test_a_user_patch_sends_user_settings_updated_exactly(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    bob = ids(hooked_app)["bob"]
    body = {"in_meeting": {"chat": True}, "schedule_meeting": {"host_video": True}}
    answer = await patch(api, "/v2/users/bob@acme.test/settings", body, INTRUDER)
    assert answer.status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    [sent] = receiver.requests
    event = {
        "event": "user.settings_updated",
        "event_ts": AT_MS,
        "payload": {
            "account_id": "sandbox-account",
            "operator": INTRUDER,
            "operator_id": INTRUDER_ID,
            "object": {
                "id": bob,
                "settings": {
                    "in_meeting": {"chat": True},
                    "schedule_meeting": {"host_video": True},
                },
            },
            "old_object": {
                "id": bob,
                "settings": {
                    "in_meeting": {"chat": False},
                    "schedule_meeting": {"host_video": False},
                },
            },
            "time_stamp": AT_MS,
        },
    }
    assert sent.body == compact(event)
    assert sent.headers["x-zm-request-timestamp"] == str(int(START))
    assert sent.headers["x-zm-signature"] == expected_signature(str(int(START)), sent.body)
    assert sent.headers["content-type"] == "application/json; charset=utf-8"
    [logged] = hooked_app.sandbox.webhooks.entries()
    assert sent.headers["x-zm-trackingid"] == logged["event_id"]
    assert (logged["event"], logged["attempts"], logged["outcome"]) == (
        "user.settings_updated",
        1,
        "delivered",
    )
    assert logged["statuses"] == [200]


async def test_a_group_patch_names_the_owner_when_no_operator_is_given(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    sales = ids(hooked_app)["Sales"]
    answer = await patch(
        api, f"/v2/groups/{sales}/settings", {"recording": {"auto_recording": "cloud"}}
    )
    assert answer.status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    [sent] = receiver.requests
    assert sent.body == compact(
        {
            "event": "group.settings_updated",
            "event_ts": AT_MS,
            "payload": {
                "account_id": "sandbox-account",
                "operator": ALICE[0],
                "operator_id": ALICE[1],
                "object": {"id": sales, "settings": {"recording": {"auto_recording": "cloud"}}},
                "old_object": {"id": sales, "settings": {"recording": {"auto_recording": "none"}}},
                "time_stamp": AT_MS,
            },
        }
    )
    assert sent.headers["x-zm-signature"] == expected_signature(str(int(START)), sent.body)


async def test_an_account_lock_patch_sends_account_lock_settings_updated_exactly(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    body = {"in_meeting": {"chat": True}}
    answer = await patch(api, "/v2/accounts/me/lock_settings", body, "bob@acme.test")
    assert answer.status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    [sent] = receiver.requests
    bob = ids(hooked_app)["bob"]
    assert sent.body == compact(
        {
            "event": "account.lock_settings_updated",
            "event_ts": AT_MS,
            "payload": {
                "account_id": "sandbox-account",
                "operator": "bob@acme.test",
                "operator_id": bob,
                "object": {"id": "sandbox-account", "settings": {"in_meeting": {"chat": True}}},
                "old_object": {
                    "id": "sandbox-account",
                    "settings": {"in_meeting": {"chat": False}},
                },
                "time_stamp": AT_MS,
            },
        }
    )
    assert sent.headers["x-zm-signature"] == expected_signature(
        sent.headers["x-zm-request-timestamp"], sent.body
    )


async def test_group_locks_and_account_settings_have_their_own_events(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    support = ids(hooked_app)["Support"]
    lock = {"recording": {"cloud_recording": True}}
    assert (await patch(api, f"/v2/groups/{support}/lock_settings", lock)).status_code == 204
    account = {"in_meeting": {"file_transfer": True}}
    assert (await patch(api, "/v2/accounts/me/settings", account)).status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    events = [(r.json()["event"], r.json()["payload"]["object"]) for r in receiver.requests]
    assert sorted(events, key=lambda pair: pair[0]) == [
        ("account.settings_updated", {"id": "sandbox-account", "settings": account}),
        ("group.lock_settings_updated", {"id": support, "settings": lock}),
    ]


async def test_an_authentication_option_action_sends_the_options_list_before_and_after(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    url = "/v2/accounts/me/settings?option=meeting_authentication"
    before = (await api.get(url)).json()["authentication_options"]
    add = {"action": "add", "name": "Partners", "type": "enforce_login_with_domains"}
    body = {"authentication_option": {**add, "domains": "p.test"}}
    assert (await patch(api, url, body)).status_code == 204
    after = (await api.get(url)).json()["authentication_options"]
    await hooked_app.sandbox.webhooks.drain()

    [sent] = receiver.requests
    payload = sent.json()["payload"]
    assert sent.json()["event"] == "account.settings_updated"
    assert payload["object"]["settings"] == {"authentication_options": after}
    assert payload["old_object"]["settings"] == {"authentication_options": before}
    assert len(after) == len(before) + 1


def test_the_body_is_what_json_stringify_writes() -> None:
    # The expected bytes are node's JSON.stringify(JSON.parse(...)) of the same document.
    numbers = [1.0, 2**60 + 1, 2**53, -(2**60 + 1), 1e21, 2.0**70, 0.5, True]
    expected = b"[1,1152921504606847000,9007199254740992,-1152921504606847000,1e+21,"
    expected += b"1.1805916207174113e+21,0.5,true]"
    assert body_bytes(numbers) == expected
    text = {"s": "\u00e9\u2028</\n\ud800\U0001f600"}
    assert body_bytes(text) == '{"s":"\u00e9\u2028</\\n\\ud800\U0001f600"}'.encode()


async def test_adding_and_removing_members_sends_member_events(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    known = ids(hooked_app)
    engineering, mallory, bob = known["Engineering"], known["mallory"], known["bob"]
    settings = "/v2/users/mallory@acme.test/settings"
    assert (await api.get(settings)).json()["in_meeting"]["file_transfer"] is False
    members = {"members": [{"email": "mallory@acme.test"}, {"id": bob}]}  # bob is one already
    added = await api.post(
        f"/v2/groups/{engineering}/members", json=members, headers={"X-Sandbox-Operator": INTRUDER}
    )
    assert (added.status_code, added.json()) == (
        201,
        {"ids": mallory, "added_at": "2026-01-01T00:00:00Z"},
    )
    # Engineering is now mallory's primary group: she inherits its file_transfer
    assert (await api.get(settings)).json()["in_meeting"]["file_transfer"] is True
    removed = await api.delete(f"/v2/groups/{engineering}/members/mallory@acme.test")
    assert removed.status_code == 204
    again = await api.delete(f"/v2/groups/{engineering}/members/{mallory}")  # not a member now
    assert again.status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    added_event, deleted_event = (sent.json() for sent in receiver.requests)
    assert added_event == {
        "event": "group.member_added",
        "event_ts": AT_MS,
        "payload": {
            "account_id": "sandbox-account",
            "operator": INTRUDER,
            "operator_id": INTRUDER_ID,
            "time_stamp": AT_MS,
            "object": {
                "id": engineering,
                "members": [{"id": mallory, "email": "mallory@acme.test"}],
            },
        },
    }
    assert deleted_event["event"] == "group.member_deleted"
    assert (deleted_event["payload"]["operator"], deleted_event["payload"]["object"]) == (
        ALICE[0],
        {"id": engineering, "members": [{"id": mallory, "email": "mallory@acme.test"}]},
    )


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (
            {"members": [{"email": "nobody@acme.test"}]},
            404,
            {"code": 1001, "message": "User does not exist: nobody@acme.test."},
        ),
        (
            {"members": []},
            400,
            {
                "code": 300,
                "message": "Validation Failed. Invalid field: members.",
                "errors": [
                    {
                        "field": "members",
                        "message": "Expected a list of 1 to 30 members, each an id or email.",
                    }
                ],
            },
        ),
        (
            {"members": [{"id": 7}]},
            400,
            {
                "code": 300,
                "message": "Validation Failed. Invalid field: members[0].",
                "errors": [
                    {"field": "members[0]", "message": "Expected an object with an id or an email."}
                ],
            },
        ),
    ],
)
async def test_a_bad_member_list_is_refused_and_changes_nothing(
    hooked_app: SandboxApp,
    api: httpx2.AsyncClient,
    receiver: Receiver,
    body: Any,
    status: int,
    answer: Any,
) -> None:
    sales = ids(hooked_app)["Sales"]
    before = [user.group_ids[:] for user in hooked_app.sandbox.tenant.users]
    refused = await api.post(f"/v2/groups/{sales}/members", json={**body})
    assert (refused.status_code, refused.json()) == (status, answer)
    assert [user.group_ids for user in hooked_app.sandbox.tenant.users] == before
    await hooked_app.sandbox.webhooks.drain()
    assert receiver.requests == []


# operator -----------------------------------------------------------------------


async def test_a_bad_operator_header_is_refused_and_changes_nothing(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    url = "/v2/users/bob@acme.test/settings"
    answer = await patch(api, url, {"in_meeting": {"chat": True}}, "not an email")
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 300,
        "message": "Invalid X-Sandbox-Operator header: expected one email address "
        "(at most 128 characters), like intruder@example.test.",
    }
    assert (await api.get(url)).json()["in_meeting"]["chat"] is False
    await hooked_app.sandbox.webhooks.drain()
    assert receiver.requests == []


# what counts as a write -----------------------------------------------------------


async def test_only_writes_that_store_something_send_an_event(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    user = "/v2/users/bob@acme.test/settings"
    assert (await patch(api, user, {})).status_code == 204  # nothing stored
    assert (await patch(api, user, {"in_meeting": {"chat": "yes"}})).status_code == 400
    # join_before_host is locked at the account: ignored at the user level, so nothing stored
    locked = {"schedule_meeting": {"join_before_host": True}}
    assert (await patch(api, user, locked)).status_code == 204
    # an unchanged value is still a write Zoom accepted (whether Zoom sends one is undocumented)
    same = {"in_meeting": {"chat": False}}
    assert (await patch(api, user, same)).status_code == 204
    await hooked_app.sandbox.webhooks.drain()

    [sent] = receiver.requests
    payload = sent.json()["payload"]
    assert payload["object"]["settings"] == payload["old_object"]["settings"] == same


async def test_no_event_without_a_webhook_url(make_app: AppFactory, receiver: Receiver) -> None:
    app = make_app(unlimited())
    api = await api_client(app)
    try:
        answer = await patch(
            api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}}
        )
        assert answer.status_code == 204
    finally:
        await api.aclose()
    assert app.sandbox.webhooks.entries() == []
    assert receiver.requests == []


# delivery -------------------------------------------------------------------------


async def test_a_500_is_retried_with_the_same_body_and_a_fresh_signature(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [500]
    await patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}})
    clock.advance(7)  # the retry goes out later, so it is signed with a later timestamp
    await hooked_app.sandbox.webhooks.drain()

    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-zm-trackingid"] == second.headers["x-zm-trackingid"]
    assert second.headers["x-zm-request-timestamp"] == str(int(START) + 7)
    for sent in (first, second):
        timestamp = sent.headers["x-zm-request-timestamp"]
        assert sent.headers["x-zm-signature"] == expected_signature(timestamp, sent.body)
    [logged] = hooked_app.sandbox.webhooks.entries()
    assert (logged["attempts"], logged["statuses"], logged["outcome"]) == (
        2,
        [500, 200],
        "delivered",
    )


async def test_an_event_is_given_up_after_zooms_three_retries(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 404, 500, 200]
    await patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}})
    await hooked_app.sandbox.webhooks.drain()

    assert len(receiver.requests) == 4
    [logged] = hooked_app.sandbox.webhooks.entries()
    assert (logged["attempts"], logged["statuses"], logged["outcome"]) == (
        4,
        [500, 503, 404, 500],
        "failed",
    )


async def test_a_receiver_slower_than_the_timeout_is_retried(
    make_app: AppFactory, receiver: Receiver
) -> None:
    app = make_app(hooked(receiver, timeout_seconds=0.5))
    api = await api_client(app)
    receiver.delays = [2.0]
    try:
        await patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}})
        await app.sandbox.webhooks.drain()
    finally:
        await api.aclose()
        await app.sandbox.webhooks.aclose()
    [logged] = app.sandbox.webhooks.entries()
    assert (logged["statuses"], logged["outcome"]) == (["timeout", 200], "delivered")


async def test_the_write_is_answered_before_the_receiver_answers(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    receiver.hold = threading.Event()
    answer = await asyncio.wait_for(
        patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}}), 5
    )
    assert answer.status_code == 204
    assert hooked_app.sandbox.webhooks.pending() == 1
    receiver.hold.set()
    await hooked_app.sandbox.webhooks.drain()
    assert [entry["outcome"] for entry in hooked_app.sandbox.webhooks.entries()] == ["delivered"]


async def test_one_objects_events_arrive_in_the_order_made(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500]
    url = "/v2/users/bob@acme.test/settings"
    await patch(api, url, {"in_meeting": {"chat": True}})
    await patch(api, url, {"in_meeting": {"chat": False}})
    await hooked_app.sandbox.webhooks.drain()

    values = [
        r.json()["payload"]["object"]["settings"]["in_meeting"]["chat"] for r in receiver.requests
    ]
    assert values == [True, True, True, False]  # the first, retried twice, then the second


async def first_attempt_made(app: SandboxApp) -> None:
    """Wait until the newest event's first attempt is over (it then waits 5 minutes to retry)."""
    for _ in range(500):
        if app.sandbox.webhooks.entries()[-1]["attempts"] == 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first attempt did not end within 5 s")


async def test_a_full_queue_drops_the_oldest_and_counts_it(
    make_app: AppFactory, receiver: Receiver
) -> None:
    # A dead receiver (nothing listens there) and Zoom's real 5-minute wait before a retry.
    dead = "http://127.0.0.1:9/zoom/events"
    app = make_app(hooked(receiver, url=dead, retry_scale=1.0, queue_limit=2))
    api = await api_client(app)
    try:
        for name in ("bob", "carol", "dave"):
            body = {"in_meeting": {"chat": True}}
            answer = await patch(api, f"/v2/users/{name}@acme.test/settings", body)
            assert answer.status_code == 204
            await first_attempt_made(app)
        hooks = app.sandbox.webhooks
        assert [entry["outcome"] for entry in hooks.entries()] == ["dropped", "pending", "pending"]
        assert (hooks.dropped, hooks.pending()) == (1, 2)
        assert hooks.entries()[1]["statuses"] == ["connection error: ConnectError"]
    finally:
        await api.aclose()
        await app.sandbox.webhooks.aclose()


# URL validation -------------------------------------------------------------------


async def test_the_url_validation_challenge_is_checked(
    hooked_app: SandboxApp, receiver: Receiver
) -> None:
    result = await hooked_app.sandbox.webhooks.validate_endpoint()
    assert (result["outcome"], result["detail"]) == (
        "validated",
        "plainToken and encryptedToken match",
    )
    [sent] = receiver.requests
    document = sent.json()
    assert list(document) == ["payload", "event_ts", "event"]
    assert document["event"] == "endpoint.url_validation"
    assert sent.headers["x-zm-signature"] == expected_signature(
        sent.headers["x-zm-request-timestamp"], sent.body
    )

    receiver.validation_answer = {"plainToken": document["payload"]["plainToken"]}
    refused = await hooked_app.sandbox.webhooks.validate_endpoint()
    assert (refused["outcome"], refused["detail"]) == (
        "refused",
        "the answer does not echo plainToken",
    )


# control API, config, CLI -----------------------------------------------------------


async def test_the_control_api_shows_the_log_and_never_the_secret(
    hooked_app: SandboxApp, api: httpx2.AsyncClient, receiver: Receiver, tmp_path: Path
) -> None:
    await patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}})
    await hooked_app.sandbox.webhooks.drain()

    shown = await api.get("/_sandbox/webhooks")
    document = shown.json()
    assert (document["url"], document["pending"], document["dropped"]) == (receiver.url, 0, 0)
    [entry] = document["deliveries"]
    assert (entry["event"], entry["object"], entry["attempts"], entry["outcome"]) == (
        "user.settings_updated",
        f"user:{ids(hooked_app)['bob']}",
        1,
        "delivered",
    )
    assert entry["body"] == receiver.requests[0].json()
    config = await api.get("/_sandbox/config")
    save_state(tmp_path / "state.json", hooked_app.sandbox.tenant, hooked_app.sandbox.config)
    for text in (shown.text, config.text, (tmp_path / "state.json").read_text()):
        assert SECRET not in text
    assert (await api.delete("/_sandbox/webhooks")).status_code == 204
    assert (await api.get("/_sandbox/webhooks")).json()["deliveries"] == []


async def test_webhooks_turned_on_at_runtime_validate_the_url_then_send(
    make_app: AppFactory, receiver: Receiver
) -> None:
    app = make_app(unlimited())
    api = await api_client(app)
    try:
        turned_on = await api.patch(
            "/_sandbox/config", json={"webhook": {"url": receiver.url, "secret": SECRET}}
        )
        assert turned_on.status_code == 200
        assert "webhook" not in turned_on.json()
        for _ in range(500):
            if app.sandbox.webhooks.validation is not None:
                break
            await asyncio.sleep(0.01)
        assert app.sandbox.webhooks.validation is not None
        assert app.sandbox.webhooks.validation["outcome"] == "validated"
        await patch(api, "/v2/users/bob@acme.test/settings", {"in_meeting": {"chat": True}})
        await app.sandbox.webhooks.drain()
    finally:
        await api.aclose()
        await app.sandbox.webhooks.aclose()
    assert [sent.json()["event"] for sent in receiver.requests] == [
        "endpoint.url_validation",
        "user.settings_updated",
    ]


async def test_the_control_api_refuses_a_webhook_url_off_this_machine(
    hooked_app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    answer = await api.patch(
        "/_sandbox/config",
        json={"webhook": {"url": "http://example.com/zoom/events", "secret": "s3cr3t-value"}},
    )
    assert answer.status_code == 400
    [error] = answer.json()["detail"]
    assert error["msg"] == (
        "Value error, the sandbox only sends webhooks to loopback, not 'example.com'; use 127.0.0.1"
    )
    assert "s3cr3t-value" not in answer.text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--webhook-url", "http://example.com/zoom/events", "--webhook-secret", "x"],
            "the sandbox only sends webhooks to loopback, not 'example.com'; use 127.0.0.1",
        ),
        (
            ["--webhook-url", "http://127.0.0.1:8000/zoom/events"],
            "--webhook-url needs the app's secret token: --webhook-secret or "
            "ZOOM_WEBHOOK_SECRET_TOKEN",
        ),
        (["--webhook-retry-scale", "0.01"], "--webhook-retry-scale needs --webhook-url"),
    ],
)
def test_the_cli_refuses_bad_webhook_options(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["serve", *arguments], env={"ZOOM_WEBHOOK_SECRET_TOKEN": None}
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_sandbox_serve_validates_the_url_and_delivers(receiver: Receiver) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from reconciler.sandbox.cli import sandbox; sandbox(sys.argv[1:])",
        "serve",
        "--rate-limit",
        "off",
        "--webhook-url",
        receiver.url,
        "--webhook-retry-scale",
        "0.0001",
    ]
    env = {**os.environ, "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(5)]
            exports = dict(line.removeprefix("export ").split("=", 1) for line in lines)
            api, oauth = exports["ZOOM_API_URL"], exports["ZOOM_OAUTH_URL"]
            token = httpx2.post(oauth, params=TOKEN_PARAMS, auth=CREDENTIALS).json()
            headers = {
                "Authorization": f"Bearer {token['access_token']}",
                "X-Sandbox-Operator": INTRUDER,
            }
            body = {"in_meeting": {"chat": True}}
            answer = httpx2.patch(f"{api}/users/bob@acme.test/settings", json=body, headers=headers)
            assert answer.status_code == 204
            control = api.removesuffix("/v2") + "/_sandbox/webhooks"
            for _ in range(500):
                shown = httpx2.get(control).json()
                if shown["deliveries"] and shown["deliveries"][0]["outcome"] != "pending":
                    break
                threading.Event().wait(0.02)
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=10)
    assert shown["validation"]["outcome"] == "validated"
    [entry] = shown["deliveries"]
    assert (entry["event"], entry["outcome"]) == ("user.settings_updated", "delivered")
    events = [sent.json() for sent in receiver.requests]
    assert [event["event"] for event in events] == [
        "endpoint.url_validation",
        "user.settings_updated",
    ]
    assert events[1]["payload"]["operator"] == INTRUDER
    assert f"# webhook URL {receiver.url} validated" in stderr.splitlines()
    assert SECRET not in stderr


# Zoom's own Node SDK as the receiver ------------------------------------------------

RIVET = "@zoom/rivet@0.4.0"
RIVET_RECEIVER = """\
import http from "node:http";
import { UsersS2SAuthClient } from "@zoom/rivet/users";

// Rivet's receiver listens on every interface; the tests talk only to 127.0.0.1.
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, callback) {
  return listen.call(this, port, "127.0.0.1", callback);
};
const client = new UsersS2SAuthClient({
  clientId: "sandbox-client",
  clientSecret: "sandbox-secret",
  accountId: "sandbox-account",
  webhooksSecretToken: process.env.WEBHOOK_SECRET,
  port: 0,
});
for (const name of process.argv.slice(2)) {
  client.webEventConsumer.event(name, (event) => {
    process.stdout.write(JSON.stringify(event) + "\\n");
  });
}
const server = await client.start();
process.stdout.write(JSON.stringify({ port: server.address().port }) + "\\n");
"""
RIVET_EVENTS = [
    "user.settings_updated",
    "group.settings_updated",
    "group.lock_settings_updated",
    "account.settings_updated",
    "account.lock_settings_updated",
    "group.member_added",
    "group.member_deleted",
]


@pytest.fixture(scope="module")
def rivet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with Zoom's `@zoom/rivet` installed from the npm registry."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("node and npm are needed to run Zoom's Node SDK (@zoom/rivet)")
    folder = tmp_path_factory.mktemp("rivet")
    command = [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", RIVET]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {RIVET} took more than 240 s")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"npm could not install {RIVET}: {last}")
    (folder / "receiver.mjs").write_text(RIVET_RECEIVER)
    return folder


@dataclass
class RivetReceiver:
    process: subprocess.Popen[str]
    url: str
    lines: queue.Queue[str]

    def events(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(self.lines.get(timeout=10)) for _ in range(count)]


@pytest.fixture
def rivet(rivet_folder: Path) -> Iterator[RivetReceiver]:
    node = shutil.which("node")
    assert node is not None
    process = subprocess.Popen(
        [node, "receiver.mjs", *RIVET_EVENTS],
        cwd=rivet_folder,
        env={**os.environ, "WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        port = json.loads(lines.get(timeout=30))["port"]
        yield RivetReceiver(process, f"http://127.0.0.1:{port}/zoom/events", lines)
    finally:
        process.terminate()
        process.wait(10)


async def test_zooms_node_sdk_accepts_every_event_and_refuses_a_tampered_one(
    make_app: AppFactory, rivet: RivetReceiver
) -> None:
    app = make_app(unlimited(webhook={"url": rivet.url, "secret": SECRET, "retry_scale": 0.00002}))
    hooks = app.sandbox.webhooks
    api = await api_client(app)
    known = ids(app)
    # JSON.stringify writes these characters as they are: the body must too, or the check fails.
    text = "Ünïcode “quotes” </script> \u2028 \U0001f600 \\ \n\t \ud800"
    writes = [
        ("/v2/users/bob@acme.test/settings", {"in_meeting": {"custom_service_instructions": text}}),
        (f"/v2/groups/{known['Sales']}/settings", {"recording": {"auto_recording": "cloud"}}),
        (f"/v2/groups/{known['Support']}/lock_settings", {"recording": {"cloud_recording": True}}),
        ("/v2/accounts/me/settings", {"in_meeting": {"file_transfer": True}}),
        ("/v2/accounts/me/lock_settings", {"in_meeting": {"chat": True}}),
    ]
    members = f"/v2/groups/{known['Sales']}/members"
    operator = {"X-Sandbox-Operator": INTRUDER}
    try:
        assert (await hooks.validate_endpoint())["outcome"] == "validated"
        for url, body in writes:
            assert (await patch(api, url, body, INTRUDER)).status_code == 204
            await hooks.drain()  # one at a time, so rivet's lines come in the same order
        added = await api.post(members, json={"members": [{"id": known["mallory"]}]})
        assert added.status_code == 201
        await hooks.drain()
        removed = await api.delete(f"{members}/{known['mallory']}", headers=operator)
        assert removed.status_code == 204
        await hooks.drain()
    finally:
        await api.aclose()
        await hooks.aclose()

    entries = hooks.entries()
    assert [(e["event"], e["statuses"], e["outcome"]) for e in entries] == [
        (name, [200], "delivered") for name in RIVET_EVENTS
    ]
    received = rivet.events(len(RIVET_EVENTS))
    assert received == [entry["body"] for entry in entries]
    assert received[0]["payload"]["object"]["settings"]["in_meeting"] == {
        "custom_service_instructions": text
    }

    # The signature of the second event over a body that says otherwise: rivet refuses it.
    sent = entries[1]["body"]
    timestamp = str(int(START))
    good = compact(sent)
    tampered = compact({**sent, "payload": {**sent["payload"], "operator": ALICE[0]}})
    async with httpx2.AsyncClient(trust_env=False) as client:
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": expected_signature(timestamp, good),
        }
        refused = await client.post(rivet.url, content=tampered, headers=headers)
        assert refused.status_code == 400
        assert refused.json() == {"error": "Failed to verify event originated from Zoom."}
        accepted = await client.post(rivet.url, content=good, headers=headers)
        assert accepted.status_code == 200
    assert rivet.events(1) == [sent]  # only the untampered one reached the listener
    assert rivet.lines.empty()
