"""The client against a hostile Zoom (tests/hostile_zoom.py): every bad answer is one clear
`ZoomAPIError`, in bounded time and memory, and no message quotes a secret or a token."""

from __future__ import annotations

import asyncio
import base64
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx2
import pytest

from reconciler.errors import (
    AuthError,
    BadAnswer,
    ConfigError,
    DailyLimitReached,
    RateLimited,
    Unavailable,
    WrongRecord,
    ZoomAPIError,
)
from reconciler.sandbox.server import running_sandbox
from reconciler.zoom import (
    Credentials,
    Endpoints,
    RetryPolicy,
    Secret,
    ZoomClient,
    get_lock_settings,
    get_settings,
    get_user,
    iter_group_members,
    iter_groups,
    iter_users,
)
from reconciler.zoom.config import endpoints_from_env
from tests.hostile_zoom import CHUNK, TOKEN, HostileZoom

CLIENT_ID = "hostile-client-id"
CLIENT_SECRET = "hostile-secret-VALUE"
CREDENTIALS = Credentials("acct-h", CLIENT_ID, Secret(CLIENT_SECRET))
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
SECRETS = (CLIENT_ID, CLIENT_SECRET, BASIC, TOKEN)
LOCAL = "http://127.0.0.1"
TOKEN_URL = f"POST {LOCAL}/oauth/token"
RETRIES = RetryPolicy(
    attempts=2, total_seconds=5, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0
)
CHECK = "check ZOOM_API_URL and any proxy in between"
# No test here may take longer than this, however the server behaves.
LIMIT = 10.0

T = TypeVar("T")


def in_process(app: HostileZoom, **options: Any) -> ZoomClient:
    endpoints = Endpoints(f"{LOCAL}/v2", f"{LOCAL}/oauth/token")
    options.setdefault("retry", RETRIES)
    return ZoomClient(CREDENTIALS, endpoints, transport=httpx2.ASGITransport(app=app), **options)


def over_socket(url: str, **options: Any) -> ZoomClient:
    options.setdefault("retry", RETRIES)
    return ZoomClient(CREDENTIALS, Endpoints(f"{url}/v2", f"{url}/oauth/token"), **options)


async def failure(
    call: Awaitable[Any], kind: type[ZoomAPIError] = ZoomAPIError, within: float = LIMIT
) -> str:
    """What `call` fails with: exactly one error of `kind`, raised on its own (no chained
    traceback), within `within` seconds, on one line and quoting no secret."""
    with pytest.raises(ZoomAPIError) as caught:
        await asyncio.wait_for(call, within)
    error = caught.value
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    text = str(error)
    assert "\n" not in text and "\r" not in text
    for secret in SECRETS:
        assert secret not in text
    return text


async def settings_of(app: HostileZoom, **options: Any) -> dict[str, Any]:
    async with in_process(app, **options) as zoom:
        return await get_settings(zoom, "user", "x", "general")


async def listed(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


# -- 1. typed answers ---------------------------------------------------------------------------


def not_settings(kind: str, detail: str) -> str:
    return (
        f"GET /users/x/settings: Zoom's answer is not a settings document (HTTP 200, {kind}): "
        f"{detail}; {CHECK}"
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "html",
            not_settings(
                "text/html", "not JSON, it begins '<html><head><title>Sign in</title></head…'"
            ),
        ),
        ("empty", not_settings("application/json", "the body is empty")),
        ("null", not_settings("application/json", "JSON null, not an object")),
        ("list", not_settings("application/json", "a JSON array, not an object")),
        (
            "garbage",
            not_settings(
                "application/json", "not JSON, it begins '\ufffd\ufffd{\"in_meeting\": tru\\x00e'"
            ),
        ),
        (
            "wrong_types",
            not_settings(
                "application/json",
                "meeting_security: Input should be a valid dictionary (and 1 more)",
            ),
        ),
    ],
)
async def test_a_settings_answer_that_is_not_a_settings_document_is_a_bad_answer(
    mode: str, expected: str
) -> None:
    assert await failure(settings_of(HostileZoom(mode=mode)), BadAnswer) == expected


async def test_a_good_answer_comes_back_as_plain_data() -> None:
    app = HostileZoom()
    async with in_process(app) as zoom:
        assert await get_settings(zoom, "user", "x", "general") == {
            "in_meeting": {"waiting_room": True}
        }
        user = await get_user(zoom, "alice@acme.test")
        assert user == {
            "id": "u-alice",
            "email": "alice@acme.test",
            "status": "active",
            "type": 1,
            "group_ids": [],
        }
        assert type(user) is dict
        assert [g["name"] async for g in iter_groups(zoom)] == ["Group 0", "Group 1"]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda zoom: get_lock_settings(zoom, "group", "g1", "meeting_security"),
            "GET /groups/g1/lock_settings: Zoom's answer is not a lock settings document "
            "(HTTP 200, application/json): meeting_security: Input should be a valid dictionary "
            "(and 1 more)",
        ),
        (
            lambda zoom: get_user(zoom, "alice@acme.test"),
            "GET /users/alice@acme.test: Zoom's answer is not a user record "
            "(HTTP 200, application/json): id: Input should be a valid string (and 1 more)",
        ),
        (
            lambda zoom: listed(iter_users(zoom)),
            "GET /users: Zoom's answer is not a page of users (HTTP 200, application/json): "
            "total_records: Input should be a valid integer (and 1 more)",
        ),
        (
            lambda zoom: listed(iter_groups(zoom)),
            "GET /groups: Zoom's answer is not a page of groups (HTTP 200, application/json): "
            "next_page_token: Input should be a valid string (and 1 more)",
        ),
        (
            lambda zoom: listed(iter_group_members(zoom, "g1")),
            "GET /groups/g1/members: Zoom's answer is not a page of group members "
            "(HTTP 200, application/json): total_records: Input should be a valid integer "
            "(and 1 more)",
        ),
    ],
)
async def test_wrong_types_are_a_bad_answer_for_every_endpoint(
    call: Callable[[ZoomClient], Awaitable[Any]], expected: str
) -> None:
    async with in_process(HostileZoom(mode="wrong_types")) as zoom:
        assert await failure(call(zoom), BadAnswer) == f"{expected}; {CHECK}"


async def test_zoom_error_messages_never_quote_the_token() -> None:
    async with in_process(HostileZoom(mode="echo_secrets")) as zoom:
        text = await failure(get_settings(zoom, "user", "x", "general"))
    assert text == "GET /users/x/settings, HTTP 400, Zoom code 300: bad header Bearer [redacted]"


# -- 2. size cap --------------------------------------------------------------------------------


def streaming_zoom(pulled: list[int], headers: dict[str, str]) -> ZoomClient:
    """A Zoom whose API answers stream 300 MB from a generator, counting the chunks taken."""

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(300_000_000 // len(CHUNK)):
            pulled[0] += 1
            yield CHUNK

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth/token":
            return httpx2.Response(200, json={"access_token": TOKEN, "expires_in": 3600})
        return httpx2.Response(200, headers=headers, content=endless())

    endpoints = Endpoints(f"{LOCAL}/v2", f"{LOCAL}/oauth/token")
    transport = httpx2.MockTransport(answer)
    return ZoomClient(CREDENTIALS, endpoints, transport=transport, retry=RETRIES)


async def test_a_300_mb_stream_is_refused_after_the_cap_without_reading_it() -> None:
    pulled = [0]
    tracemalloc.start()
    try:
        async with streaming_zoom(pulled, {"Content-Type": "application/json"}) as zoom:
            text = await failure(get_settings(zoom, "user", "x", "general"), BadAnswer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text == (
        "GET /users/x/settings: Zoom's answer is larger than the 8 MB this client reads "
        "(HTTP 200, application/json) and was not read to its end; "
        f"{CHECK}, or raise the client's max_body"
    )
    assert pulled[0] <= 8_000_000 // len(CHUNK) + 2  # 123 of 4577 chunks
    assert peak < 40_000_000


async def test_a_declared_length_over_the_cap_is_refused_before_the_body() -> None:
    pulled = [0]
    declared = {"Content-Type": "application/json", "Content-Length": "300000000"}
    async with streaming_zoom(pulled, declared) as zoom:
        text = await failure(get_settings(zoom, "user", "x", "general"), BadAnswer)
    assert "larger than the 8 MB this client reads" in text
    assert pulled[0] == 0


async def test_a_huge_body_over_a_socket_stays_within_bounded_memory() -> None:
    app = HostileZoom(mode="huge")
    with running_sandbox(app) as url:  # type: ignore[arg-type]
        tracemalloc.start()  # both ends live in this process: the server's share counts too
        try:
            async with over_socket(url, max_body=1_000_000) as zoom:
                text = await failure(get_settings(zoom, "user", "x", "general"), BadAnswer)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "larger than the 1 MB this client reads" in text
    assert app.chunks_sent < 300_000_000 // len(CHUNK) // 10
    assert peak < 40_000_000


async def test_a_declared_length_over_a_socket_is_refused() -> None:
    app = HostileZoom(mode="huge", declare_length=True)
    with running_sandbox(app) as url:  # type: ignore[arg-type]
        async with over_socket(url) as zoom:
            text = await failure(get_settings(zoom, "user", "x", "general"), BadAnswer)
    assert "larger than the 8 MB this client reads" in text
    assert app.chunks_sent < 300_000_000 // len(CHUNK) // 10  # what the socket buffers took


async def test_the_cap_is_a_client_parameter() -> None:
    app = HostileZoom(mode="html", access_token="tok-1")  # a token answer of 69 bytes, HTML of 76
    text = await failure(settings_of(app, max_body=70), BadAnswer)
    assert "larger than the 70 bytes this client reads (HTTP 200, text/html)" in text


# -- 3. redirects and what counts as accepted ---------------------------------------------------


async def test_a_redirect_is_never_the_answer() -> None:
    text = await failure(settings_of(HostileZoom(mode="redirect")), BadAnswer)
    assert text == (
        "GET /users/x/settings: Zoom answered with a redirect (HTTP 302 to "
        "'https://login.example/sso'), which this client never takes as an answer; " + CHECK
    )


async def patch(app: HostileZoom) -> httpx2.Response:
    async with in_process(app) as zoom:
        return await zoom.request("PATCH", "/users/x/settings", json={"in_meeting": {}})


async def test_a_patch_answered_302_is_not_accepted() -> None:
    text = await failure(patch(HostileZoom(mode="redirect")), BadAnswer)
    assert text == (
        "PATCH /users/x/settings: Zoom answered with a redirect (HTTP 302 to "
        "'https://login.example/sso'), which this client never takes as an answer; "
        f"not counted as applied; {CHECK}"
    )


async def test_a_patch_answered_200_with_html_is_not_accepted() -> None:
    text = await failure(patch(HostileZoom(mode="html")), BadAnswer)
    assert text == (
        "PATCH /users/x/settings: Zoom's answer is not an acceptance (HTTP 200, text/html): "
        "not JSON, it begins '<html><head><title>Sign in</title></head…'; "
        f"not counted as applied: {CHECK}, then plan again"
    )


@pytest.mark.parametrize("mode", ["ok", "empty", "null"])
async def test_a_patch_is_accepted_on_204_or_an_empty_or_json_body(mode: str) -> None:
    answer = await asyncio.wait_for(patch(HostileZoom(mode=mode)), LIMIT)
    assert answer.status_code in (200, 204)


# -- 4. a deadline per attempt ------------------------------------------------------------------


async def test_a_trickling_answer_is_cut_at_the_deadline() -> None:
    app = HostileZoom(mode="trickle", trickle_every=5.0)
    with running_sandbox(app) as url:  # type: ignore[arg-type]
        started = time.monotonic()
        async with over_socket(url, deadline=0.5) as zoom:
            text = await failure(get_settings(zoom, "user", "x", "general"), Unavailable, 4.0)
        took = time.monotonic() - started
    assert text == (
        "GET /users/x/settings: no complete answer within the 0.5 s deadline, 2 attempts; "
        "check the network, or raise the client's deadline"
    )
    assert took < 3.0  # two attempts of 0.5 s, not two of 5 s a byte
    assert len(app.api_requests) == 2


async def test_a_token_endpoint_that_never_finishes_is_cut_at_the_deadline() -> None:
    never = asyncio.Event()

    async def hold(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        raise AssertionError("unreachable")  # pragma: no cover

    endpoints = Endpoints(f"{LOCAL}/v2", f"{LOCAL}/oauth/token")
    transport = httpx2.MockTransport(hold)
    async with ZoomClient(CREDENTIALS, endpoints, transport=transport, deadline=0.05) as zoom:
        text = await failure(get_settings(zoom, "user", "x", "general"), Unavailable)
    assert text == (
        f"{TOKEN_URL}: could not get an access token after 4 attempts "
        "(no complete answer within 0.05 s); check the network and ZOOM_OAUTH_URL, then run again"
    )


# -- 5. Retry-After -----------------------------------------------------------------------------


RESET = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (
            "86400",
            "Zoom asked for a wait of 86400 s before the next request, more than the 300 s "
            f"this client waits; the limit resets at {RESET}: run again after that",
        ),
        (
            "301",
            "Zoom asked for a wait of 301 s before the next request, more than the 300 s "
            f"this client waits; the limit resets at {RESET}: run again after that",
        ),
        (
            "99999999999",
            "Zoom asked for a wait of 1e\\+11 s before the next request, more than the 300 s "
            "this client waits; the limit resets at an unknown time: run again after that",
        ),
        *(
            (
                junk,
                f"Zoom answered 429 with a Retry-After of '{re.escape(junk)}', which is neither "
                "seconds nor a date, so when the limit resets is unknown; "
                "wait a few minutes, then run again",
            )
            for junk in ("inf", "nan", "-1", "1e9", "soon", "0x10")
        ),
    ],
)
async def test_a_wait_beyond_the_cap_or_junk_stops_instead_of_sleeping(
    retry_after: str, expected: str
) -> None:
    started = time.monotonic()
    text = await failure(settings_of(HostileZoom(mode="retry_after", retry_after=retry_after)))
    assert re.fullmatch(f"GET /users/x/settings, HTTP 429, Zoom code 429: {expected}", text)
    assert time.monotonic() - started < 2.0


async def test_the_longest_wait_is_a_client_parameter() -> None:
    app = HostileZoom(mode="retry_after", retry_after="2")
    text = await failure(settings_of(app, max_retry_after=1.0), RateLimited)
    assert "a wait of 2 s before the next request, more than the 1 s this client waits" in text
    assert len(app.api_requests) == 1


async def test_an_http_date_is_a_daily_limit_with_its_reset_time() -> None:
    app = HostileZoom(mode="retry_after", retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    text = await failure(settings_of(app), DailyLimitReached)
    assert text.endswith("it resets at Wed, 21 Oct 2026 07:28:00 GMT: run again after that")


# -- 6. paging that does not end ----------------------------------------------------------------


LISTINGS: list[tuple[str, Callable[[ZoomClient], Awaitable[Any]]]] = [
    ("/users", lambda zoom: listed(iter_users(zoom))),
    ("/groups", lambda zoom: listed(iter_groups(zoom))),
    ("/groups/g1/members", lambda zoom: listed(iter_group_members(zoom, "g1"))),
]
STOPPED = "stopped so that the listing cannot loop; run again, and report it to Zoom if it stays"


@pytest.mark.parametrize(("path", "call"), LISTINGS)
async def test_a_repeated_page_token_stops_the_listing(
    path: str, call: Callable[[ZoomClient], Awaitable[Any]]
) -> None:
    app = HostileZoom(mode="repeat_token")
    async with in_process(app) as zoom:
        text = await failure(call(zoom), BadAnswer)
    assert text == (
        f"GET {path}: Zoom's pages do not end: next_page_token came back again after 2 pages; "
        + STOPPED
    )
    assert len(app.api_requests) == 2


@pytest.mark.parametrize(("path", "call"), LISTINGS)
async def test_pages_beyond_total_records_stop_the_listing(
    path: str, call: Callable[[ZoomClient], Awaitable[Any]]
) -> None:
    app = HostileZoom(mode="endless_pages")
    async with in_process(app) as zoom:
        text = await failure(call(zoom), BadAnswer)
    assert text == (
        f"GET {path}: Zoom's pages do not end: 5 pages of 300 for 700 records (total_records) "
        f"and Zoom still says there are more; {STOPPED}"
    )
    assert len(app.api_requests) == 5  # 3 pages hold 700 records; 2 more of slack


@pytest.mark.parametrize(("path", "call"), LISTINGS)
async def test_an_absurd_total_records_stops_the_listing_at_its_first_page(
    path: str, call: Callable[[ZoomClient], Awaitable[Any]]
) -> None:
    """3e8 records with fresh page tokens paged to the 20,000-page cap (about 15 minutes)."""
    app = HostileZoom(mode="endless_pages", pages_total=300_000_000)
    async with in_process(app) as zoom:
        text = await failure(call(zoom), BadAnswer)
    assert text == (
        f"GET {path}: Zoom's pages do not end: total_records is 300,000,000, more than the "
        f"2,000,000 records a listing reads; {STOPPED}"
    )
    assert len(app.api_requests) == 1


@pytest.mark.parametrize(("path", "call"), LISTINGS)
async def test_a_total_records_that_keeps_growing_stops_the_listing(
    path: str, call: Callable[[ZoomClient], Awaitable[Any]]
) -> None:
    """Each page claims 1,000 more records than the last, so the bound never comes: it is the
    first page's count, with room for the records two pages hold."""
    app = HostileZoom(mode="endless_pages", pages_total=700, total_growth=1000)
    async with in_process(app) as zoom:
        text = await failure(call(zoom), BadAnswer)
    assert text == (
        f"GET {path}: Zoom's pages do not end: total_records grew from 700 to 1,700 in 2 pages; "
        + STOPPED
    )
    assert len(app.api_requests) == 2


# -- 7. identity --------------------------------------------------------------------------------


@pytest.mark.parametrize("asked", ["alice@acme.test", "u-alice"])
async def test_another_users_record_is_not_taken_for_the_one_asked(asked: str) -> None:
    async with in_process(HostileZoom(mode="other_user")) as zoom:
        text = await failure(get_user(zoom, asked), WrongRecord)
    assert text == (
        f"GET /users/{asked}: Zoom answered with another user's record "
        "(id 'u-bob', email 'bob@acme.test') than the one asked for; not used: "
        "check the user in Zoom, then run again"
    )


async def test_an_email_matches_whatever_its_case() -> None:
    async with in_process(HostileZoom()) as zoom:
        user = await asyncio.wait_for(get_user(zoom, "Alice@ACME.test"), LIMIT)
    assert user["id"] == "u-alice"


# -- 8. the token endpoint ----------------------------------------------------------------------


def not_a_token(kind: str, detail: str) -> str:
    return (
        f"{TOKEN_URL}, HTTP 200: Zoom's answer is not an access token ({kind}): {detail}; "
        "check ZOOM_OAUTH_URL"
    )


@pytest.mark.parametrize(
    ("token_mode", "expected"),
    [
        (
            "html",
            not_a_token(
                "text/html", "not JSON, it begins '<html><head><title>Sign in</title></head…'"
            ),
        ),
        ("empty", not_a_token("application/json", "the body is empty")),
        ("missing", not_a_token("application/json", "access_token: Field required")),
        ("list", not_a_token("application/json", "a JSON array, not an object")),
        (
            "non_ascii",
            not_a_token(
                "application/json",
                "access_token: Value error, must be 1 to 8192 characters of visible ASCII, "
                "without spaces",
            ),
        ),
        (
            "echo",
            f"{TOKEN_URL}, HTTP 400: Zoom refused the Server-to-Server OAuth credentials "
            "(client [redacted] secret [redacted] basic [redacted] header Basic [redacted]); "
            "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
        ),
        (
            "echo_page",
            not_a_token(
                "text/html", "not JSON, it begins '<html>client [redacted] secret [redacted…'"
            ),
        ),
        (
            "long_reason",
            f"{TOKEN_URL}, HTTP 400: Zoom refused the Server-to-Server OAuth credentials "
            "(line one\\nline two\\x1b[31m " + ("blah " * 20)[:97] + "…); "
            "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
        ),
        (
            "redirect",
            f"{TOKEN_URL}, HTTP 302: Zoom's token endpoint answered with a redirect to "
            "'https://login.example/sso', which this client never follows; check ZOOM_OAUTH_URL",
        ),
        (
            "huge",
            f"{TOKEN_URL}, HTTP 200: Zoom's token endpoint answered more than 8 MB; "
            "check ZOOM_OAUTH_URL",
        ),
    ],
)
async def test_a_token_answer_that_is_not_a_token_is_one_auth_error(
    token_mode: str, expected: str
) -> None:
    app = HostileZoom(token_mode=token_mode, huge_bytes=20_000_000)
    assert await failure(settings_of(app), AuthError) == expected
    assert app.api_requests == []  # nothing was sent with a token that is not one


@pytest.mark.parametrize(
    ("expires_in", "why"),
    [
        (0, "Input should be greater than 0"),
        (-1, "Input should be greater than 0"),
        (86_401, "Input should be less than or equal to 86400"),
        ("3600", "Input should be a valid integer"),
        (3600.5, "Input should be a valid integer"),
        (True, "Input should be a valid integer"),
        (None, "Input should be a valid integer"),
    ],
)
async def test_a_token_lifetime_out_of_reason_is_an_auth_error(expires_in: Any, why: str) -> None:
    app = HostileZoom(token_mode="bad_expiry", expires_in=expires_in)
    text = await failure(settings_of(app), AuthError)
    assert text == not_a_token("application/json", f"expires_in: {why}")


@pytest.mark.parametrize("token", ["has space", "tab\there", "", "x" * 8193])
async def test_a_token_unfit_for_a_header_is_an_auth_error(token: str) -> None:
    text = await failure(settings_of(HostileZoom(access_token=token)), AuthError)
    assert "access_token: Value error, must be 1 to 8192 characters of visible ASCII" in text


# -- 9. URLs ------------------------------------------------------------------------------------


def test_a_url_with_a_password_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as caught:
        endpoints_from_env({"ZOOM_API_URL": "http://user:hunter2@10.255.255.1/v2"})
    text = str(caught.value)
    assert "hunter2" not in text and "user:" not in text
    assert text.startswith(
        "ZOOM_API_URL='http://10.255.255.1/v2' carries a user name or password before its host"
    )


def test_an_oauth_url_with_a_user_name_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        endpoints_from_env({"ZOOM_OAUTH_URL": "https://admin@zoom.us/oauth/token"})
    assert str(caught.value).startswith(
        "ZOOM_OAUTH_URL='https://zoom.us/oauth/token' carries a user name or password"
    )


@pytest.mark.parametrize("port", ["abc", "99999", "-1"])
def test_a_bad_port_is_a_config_error(port: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Endpoints(api_url=f"https://api.zoom.us:{port}/v2")
    assert str(caught.value) == (
        f"ZOOM_API_URL='https://api.zoom.us:{port}/v2' has a port that is not a number from "
        "0 to 65535 (hint: write the port as digits after the host, as in "
        "https://host:8443/path)"
    )


def test_a_url_that_does_not_parse_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        Endpoints(oauth_url="https://u:pw@[::1/oauth")
    assert str(caught.value) == (
        "ZOOM_OAUTH_URL does not parse as a URL (hint: write it as https://host/path)"
    )


def test_a_url_with_a_query_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Endpoints(api_url="https://api.zoom.us/v2?key=s3cret")
    assert "s3cret" not in str(caught.value)
    assert str(caught.value).startswith(
        "ZOOM_API_URL='https://api.zoom.us/v2' has a query or fragment"
    )


def test_a_url_from_the_environment_is_stripped_then_checked_whole() -> None:
    found = endpoints_from_env({"ZOOM_API_URL": "  https://api.zoom.us/v2\n"})
    assert found.api_url == "https://api.zoom.us/v2"
    with pytest.raises(ConfigError) as caught:
        endpoints_from_env({"ZOOM_API_URL": " http://10.255.255.1/v2"})
    assert str(caught.value).startswith("ZOOM_API_URL='http://10.255.255.1/v2' is not an https://")


@pytest.mark.parametrize(
    ("url", "at"),
    [
        (" http://127.0.0.1/v2", 1),  # given as it is, not from the environment
        ("https://api.zoom.us\n.evil.example/v2", 20),  # urlsplit drops the newline
        ("https://api.zoom.us/v2\t", 23),
        ("https://api.zo\u200bom.us/v2", 15),  # a zero-width space
        ("https://api.zoom.us/v 2", 22),
    ],
)
def test_a_url_with_a_space_or_control_character_inside_is_refused(url: str, at: int) -> None:
    with pytest.raises(ConfigError) as caught:
        Endpoints(api_url=url)
    assert str(caught.value) == (
        f"ZOOM_API_URL has a space or control character at character {at} (hint: write the URL "
        "on its own, with nothing before, inside or after it)"
    )
