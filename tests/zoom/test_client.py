from __future__ import annotations

import asyncio
import traceback
from typing import Any

import httpx2
import pytest

from reconciler.errors import (
    AuthError,
    ConfigError,
    CredentialsMissing,
    DailyLimitReached,
    NotFound,
    RateLimited,
    Unavailable,
    ZoomAPIError,
)
from reconciler.vocab import Family, Level
from reconciler.zoom import (
    Credentials,
    Endpoints,
    RetryPolicy,
    ZoomClient,
    get_settings,
    iter_users,
)
from reconciler.zoom.config import credentials_from_env
from reconciler.zoom.endpoints import settings_path
from reconciler.zoom.pacer import WaitEvent
from tests.zoom.conftest import SECRET, ScriptedZoom, get_json, make_client, zoom_error


async def patch_settings(
    client: ZoomClient, level: Level, target_id: str, family: Family, body: dict[str, Any]
) -> None:
    """A settings PATCH as apply sends it."""
    params = {"option": family} if family != "general" else None
    await client.request("PATCH", settings_path(level, target_id), params=params, json=body)


OK_SETTINGS = {"in_meeting": {"waiting_room": True}}


def answers(*responses: httpx2.Response) -> ScriptedZoom:
    """A Zoom that gives these answers in order, then keeps giving the last one."""
    queue = list(responses)

    def api(_: httpx2.Request) -> httpx2.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return ScriptedZoom(api)


async def test_get_settings_sends_option_and_bearer_token(credentials: Credentials) -> None:
    zoom = answers(httpx2.Response(200, json=OK_SETTINGS))
    async with make_client(zoom, credentials) as client:
        got = await get_settings(
            client, "user", "alice@acme.test", "meeting_security", fields=["meeting_security"]
        )
    assert got == OK_SETTINGS
    [request] = zoom.api_requests
    assert request.method == "GET"
    assert request.url.path == "/v2/users/alice@acme.test/settings"
    assert dict(request.url.params) == {
        "option": "meeting_security",
        "custom_query_fields": "meeting_security",
    }
    assert request.headers["Authorization"] == "Bearer token-1"


async def test_patch_sends_exactly_the_body(credentials: Credentials) -> None:
    zoom = answers(httpx2.Response(204))
    async with make_client(zoom, credentials) as client:
        await patch_settings(client, "group", "g1", "general", OK_SETTINGS)
    [request] = zoom.api_requests
    assert (request.method, request.url.path, request.url.query) == (
        "PATCH",
        "/v2/groups/g1/settings",
        b"",
    )
    assert request.content == b'{"in_meeting":{"waiting_room":true}}'


async def test_concurrent_requests_share_one_token_request(credentials: Credentials) -> None:
    zoom = answers(httpx2.Response(200, json={}))
    async with make_client(zoom, credentials, max_in_flight=50) as client:
        await asyncio.gather(*(get_json(client, "/users/me") for _ in range(50)))
    assert zoom.tokens_issued == ["token-1"]


async def test_token_is_renewed_before_it_expires(credentials: Credentials) -> None:
    now = [0.0]
    zoom = ScriptedZoom(lambda _: httpx2.Response(200, json={}), token_lifetime=20)
    async with make_client(zoom, credentials, clock=lambda: now[0]) as client:
        await get_json(client, "/users/me")
        now[0] = 17.0  # inside the lifetime, outside the 10 % renewal margin: same token
        await get_json(client, "/users/me")
        now[0] = 18.5
        await get_json(client, "/users/me")
    used = [r.headers["Authorization"] for r in zoom.api_requests]
    assert used == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


async def test_refused_token_is_refreshed_once_and_the_request_resent(
    credentials: Credentials,
) -> None:
    zoom = answers(
        zoom_error(401, 124, "Invalid access token."), httpx2.Response(200, json=OK_SETTINGS)
    )
    async with make_client(zoom, credentials) as client:
        assert await get_json(client, "/users/u1/settings") == OK_SETTINGS
        assert client.counters.token_refreshes_on_401 == 1
    assert [r.headers["Authorization"] for r in zoom.api_requests] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_token_refused_twice_is_an_auth_error(credentials: Credentials) -> None:
    zoom = answers(zoom_error(401, 124, "Invalid access token."))
    async with make_client(zoom, credentials) as client:
        with pytest.raises(AuthError) as caught:
            await get_json(client, "/users/u1/settings")
    assert (
        str(caught.value)
        == "GET /users/u1/settings, HTTP 401, Zoom code 124: Invalid access token."
    )
    assert len(zoom.api_requests) == 2


async def test_wrong_credentials_say_which_variables_to_check(credentials: Credentials) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            400, json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        )

    client = make_client(ScriptedZoom(refuse), credentials)
    client._http._transport = httpx2.MockTransport(refuse)  # every request, token included
    async with client:
        with pytest.raises(AuthError) as caught:
            await get_json(client, "/users/me")
    assert "Invalid client_id or client_secret" in str(caught.value)
    assert "ZOOM_CLIENT_SECRET" in str(caught.value)


async def test_server_errors_are_retried_then_succeed(credentials: Credentials) -> None:
    zoom = answers(
        zoom_error(503, 503, "busy"),
        zoom_error(500, 500, "oops"),
        httpx2.Response(200, json=OK_SETTINGS),
    )
    async with make_client(zoom, credentials) as client:
        assert await get_json(client, "/users/u1/settings") == OK_SETTINGS
        # Three API requests and the token's: every request sent, as the server saw them.
        assert (client.counters.retries, client.counters.requests) == (2, 4)


async def test_persistent_server_error_is_unavailable_naming_the_target(
    credentials: Credentials,
) -> None:
    zoom = answers(zoom_error(502, 502, "Bad gateway"))
    async with make_client(zoom, credentials) as client:
        with pytest.raises(Unavailable) as caught:
            await get_json(client, "/users/u1/settings")
        assert client.counters.failures == 1
    assert str(caught.value) == (
        "GET /users/u1/settings, HTTP 502, Zoom code 502: "
        "Zoom still answered 502 after 4 attempts: Bad gateway"
    )
    assert len(zoom.api_requests) == 4


async def test_dropped_connections_are_retried(credentials: Credentials) -> None:
    calls = [0]

    def flaky(request: httpx2.Request) -> httpx2.Response:
        calls[0] += 1
        if calls[0] <= 2:
            raise httpx2.RemoteProtocolError("Server disconnected", request=request)
        return httpx2.Response(200, json=OK_SETTINGS)

    async with make_client(ScriptedZoom(flaky), credentials) as client:
        assert await get_json(client, "/users/u1/settings") == OK_SETTINGS
        assert client.counters.retries == 2


async def test_connection_that_never_answers_is_unavailable(credentials: Credentials) -> None:
    def timeout(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    async with make_client(ScriptedZoom(timeout), credentials) as client:
        with pytest.raises(Unavailable) as caught:
            await patch_settings(client, "user", "u9", "general", OK_SETTINGS)
    assert str(caught.value) == (
        "PATCH /users/u9/settings: no answer after 4 attempts (ReadTimeout)"
    )


async def test_unknown_user_is_not_found_and_not_retried(credentials: Credentials) -> None:
    zoom = answers(zoom_error(404, 1001, "User does not exist: nobody@acme.test."))
    async with make_client(zoom, credentials) as client:
        with pytest.raises(NotFound) as caught:
            await get_settings(client, "user", "nobody@acme.test", "general")
    assert (caught.value.status, caught.value.code) == (404, 1001)
    assert len(zoom.api_requests) == 1


async def test_bad_request_is_a_zoom_api_error_with_its_code(credentials: Credentials) -> None:
    zoom = answers(zoom_error(400, 300, "Invalid field: in_meeting.waitng_room"))
    async with make_client(zoom, credentials) as client:
        with pytest.raises(ZoomAPIError) as caught:
            await patch_settings(client, "user", "u1", "general", {"x": 1})
    assert type(caught.value) is ZoomAPIError
    assert caught.value.code == 300


async def test_per_second_429_pauses_and_resends(credentials: Credentials) -> None:
    zoom = answers(
        zoom_error(429, 429, "Too many requests", **{"Retry-After": "0"}),
        httpx2.Response(200, json=OK_SETTINGS),
    )
    async with make_client(zoom, credentials, rate=100.0) as client:
        assert await get_json(client, "/users/u1/settings") == OK_SETTINGS
        assert (client.counters.throttled, client.counters.retries) == (1, 0)


async def test_endless_429_is_rate_limited(credentials: Credentials) -> None:
    zoom = answers(zoom_error(429, 429, "Too many requests", **{"Retry-After": "0"}))
    async with make_client(zoom, credentials) as client:
        with pytest.raises(RateLimited):
            await get_json(client, "/users/u1/settings")
    assert len(zoom.api_requests) == 6


async def test_daily_limit_stops_at_once_and_says_when_it_resets(
    credentials: Credentials,
) -> None:
    daily = zoom_error(
        429,
        429,
        "You have reached the maximum daily rate limit for this API.",
        **{"Retry-After": "2026-11-30T00:00:00Z", "X-RateLimit-Type": "Daily-limit"},
    )
    zoom = answers(daily)
    async with make_client(zoom, credentials) as client:
        with pytest.raises(DailyLimitReached) as caught:
            await get_json(client, "/users/u1/settings")
        with pytest.raises(DailyLimitReached):
            await get_json(client, "/users/u2/settings")
    assert caught.value.resets_at == "2026-11-30T00:00:00Z"
    assert "it resets at 2026-11-30T00:00:00Z" in str(caught.value)
    assert len(zoom.api_requests) == 1  # neither retried nor sent again


async def test_users_are_paged_with_next_page_token(credentials: Credentials) -> None:
    def pages(request: httpx2.Request) -> httpx2.Response:
        token = request.url.params.get("next_page_token", "")
        start = int(token or 0)
        users = [
            {"id": f"u{i}", "email": f"u{i}@x.test"} for i in range(start, min(start + 300, 700))
        ]
        more = str(start + 300) if start + 300 < 700 else ""
        return httpx2.Response(200, json={"users": users, "next_page_token": more})

    zoom = ScriptedZoom(pages)
    async with make_client(zoom, credentials) as client:
        ids = [user["id"] async for user in iter_users(client, page_size=1000)]
    assert ids == [f"u{i}" for i in range(700)]
    assert [dict(r.url.params) for r in zoom.api_requests] == [
        {"status": "active", "page_size": "300"},
        {"status": "active", "page_size": "300", "next_page_token": "300"},
        {"status": "active", "page_size": "300", "next_page_token": "600"},
    ]


def test_plain_http_is_refused_except_to_loopback() -> None:
    Endpoints(api_url="http://127.0.0.1:8080/v2", oauth_url="http://localhost:1/oauth/token")
    with pytest.raises(ConfigError) as caught:
        Endpoints(api_url="http://zoom.example/v2")
    assert "ZOOM_API_URL='http://zoom.example/v2' is not an https:// URL" in str(caught.value)


def test_missing_credentials_name_the_variables_and_suggest_the_sandbox() -> None:
    with pytest.raises(CredentialsMissing) as caught:
        credentials_from_env({"ZOOM_ACCOUNT_ID": "a"})
    assert str(caught.value).startswith(
        "Zoom credentials missing: ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET not set"
    )
    assert "--sandbox" in str(caught.value)


async def test_secrets_never_appear_in_reprs_errors_or_tracebacks(
    credentials: Credentials, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    zoom = answers(zoom_error(401, 124, "Invalid access token."), zoom_error(503, 503, "busy"))
    seen: list[str] = [repr(credentials), str(credentials)]
    async with make_client(zoom, credentials) as client:
        seen += [repr(client), repr(client.counters)]
        calls = (get_json(client, "/users/u1/settings"), get_json(client, "/users/u2/settings"))
        for call in calls:
            try:
                await call
            except ZoomAPIError as exc:
                seen += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    captured = capsys.readouterr()
    everything = "\n".join([*seen, captured.out, captured.err, caplog.text])
    assert "GET /users/u2/settings" in everything  # the failures were reported
    for secret in [SECRET, *zoom.tokens_issued]:
        assert secret not in everything


# -- wait events --------------------------------------------------------------------------------


class SteppedTime:
    """A fake clock that sleeping moves forward; the log records sleeps and events in order."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.log: list[object] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.log.append(("sleep", seconds))
        self.now += seconds


async def test_a_long_429_pause_is_reported_with_its_seconds(credentials: Credentials) -> None:
    zoom = answers(
        zoom_error(429, 429, "Too many requests", **{"Retry-After": "7"}),
        zoom_error(429, 429, "Too many requests", **{"Retry-After": "2"}),
        httpx2.Response(200, json=OK_SETTINGS),
    )
    time = SteppedTime()
    options = {"clock": time.clock, "sleep": time.sleep, "observer": time.log.append}
    async with make_client(zoom, credentials, **options) as client:
        await get_settings(client, "user", "u1", "general")
    # Reported as the pause begins; the 2 s pause is too short to mention.
    assert time.log == [
        WaitEvent("throttled", 7.0, "GET", "/users/u1/settings", "HTTP 429"),
        ("sleep", 7.0),
        ("sleep", 2.0),
    ]


async def test_a_long_backoff_is_reported_as_it_begins(credentials: Credentials) -> None:
    def api(request: httpx2.Request) -> httpx2.Response:
        if len(zoom.api_requests) == 1:
            raise httpx2.ConnectError("refused", request=request)
        if len(zoom.api_requests) == 2:
            return zoom_error(503, 503, "Service unavailable")
        return httpx2.Response(200, json=OK_SETTINGS)

    zoom = ScriptedZoom(api)
    time = SteppedTime()
    slow = RetryPolicy(attempts=4, wait_initial=6.0, wait_max=8.0, wait_jitter=0.0)
    options = {"clock": time.clock, "sleep": time.sleep, "observer": time.log.append}
    async with make_client(zoom, credentials, retry=slow, **options) as client:
        await get_settings(client, "user", "u1", "general")
    assert time.log == [
        WaitEvent("backoff", 6.0, "GET", "/users/u1/settings", "ConnectError"),
        ("sleep", 6.0),
        WaitEvent("backoff", 8.0, "GET", "/users/u1/settings", "HTTP 503"),  # 12 s, capped
        ("sleep", 8.0),
    ]
    assert client.counters.retries == 2


class HeldAnswers(httpx2.AsyncBaseTransport):
    """Answers API requests only once `release` is set (token requests at once)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth/token":
            return httpx2.Response(200, json={"access_token": "t", "expires_in": 3600})
        await self.release.wait()
        return httpx2.Response(200, json=OK_SETTINGS)


async def test_a_slow_answer_is_reported_once_while_it_is_still_outstanding(
    credentials: Credentials,
) -> None:
    transport = HeldAnswers()
    events: list[WaitEvent] = []

    def observe(event: WaitEvent) -> None:
        events.append(event)
        transport.release.set()  # the answer comes only after the report

    client = ZoomClient(
        credentials,
        Endpoints(api_url="https://api.zoom.test/v2", oauth_url="https://zoom.test/oauth/token"),
        transport=transport,
        observer=observe,
        report_waits_over=0.01,
    )
    async with client:
        await get_settings(client, "user", "u1", "general")
        assert events == [WaitEvent("slow_answer", 0.01, "GET", "/users/u1/settings")]
        await get_settings(client, "user", "u2", "general")  # answered at once: no report
        await asyncio.sleep(0.05)
    assert len(events) == 1


async def test_without_an_observer_nothing_is_reported_and_nothing_breaks(
    credentials: Credentials,
) -> None:
    zoom = answers(
        zoom_error(429, 429, "Too many requests", **{"Retry-After": "7"}),
        httpx2.Response(200, json=OK_SETTINGS),
    )
    time = SteppedTime()
    async with make_client(zoom, credentials, clock=time.clock, sleep=time.sleep) as client:
        await get_settings(client, "user", "u1", "general")
    assert time.log == [("sleep", 7.0)]
