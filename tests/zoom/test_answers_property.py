"""Any answer at all, to any endpoint the client calls: what escapes is a `ZoomAPIError` (an
`AuthError` for the token endpoint), on one line, quoting no secret and no token."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ZoomAPIError
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

CLIENT_ID = "prop-client-id-XYZ"
CLIENT_SECRET = "prop-secret-VALUE-42"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
TOKEN = "prop-token-VALUE-7"
SECRETS = (CLIENT_ID, CLIENT_SECRET, BASIC, TOKEN)
RETRIES = RetryPolicy(attempts=2, total_seconds=5, wait_initial=0.0, wait_max=0.0, max_throttled=2)
FIELDS = (
    "access_token",
    "token_type",
    "expires_in",
    "id",
    "email",
    "status",
    "type",
    "group_ids",
    "name",
    "total_members",
    "users",
    "groups",
    "members",
    "next_page_token",
    "total_records",
    "page_size",
    "meeting_security",
    "authentication_options",
    "in_meeting",
    "code",
    "message",
    "reason",
    "error",
)

secret_text = st.sampled_from(SECRETS)
text = st.one_of(
    st.text(max_size=20),
    secret_text,
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), secret_text, st.text(max_size=5)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), text), inner, max_size=5),
    ),
    max_leaves=25,
)
# Objects with the fields the client reads, of any type, so parsing goes past the first check.
zoomish = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
header_text = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30), secret_text
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(encoded),
    zoomish.map(encoded),
    zoomish.map(encoded).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


answers = st.builds(
    Answer,
    status=st.sampled_from([200, 200, 200, 200, 201, 204, 302, 400, 401, 404, 429, 500]),
    body=bodies,
    headers=st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": st.one_of(
                st.sampled_from(["application/json", "text/html", "text/plain"]), header_text
            ),
            "Retry-After": header_text,
            "X-RateLimit-Type": st.sampled_from(["QPS", "Daily-limit", "other"]),
            "Location": header_text,
        },
    ),
)

Call = Callable[[ZoomClient], Awaitable[Any]]


async def _listed(items: Any) -> list[Any]:
    return [item async for item in items]


CALLS: dict[str, Call] = {
    "settings": lambda zoom: get_settings(zoom, "user", "alice@acme.test", "meeting_security"),
    "auth settings": lambda zoom: get_settings(zoom, "account", "me", "meeting_authentication"),
    "locks": lambda zoom: get_lock_settings(zoom, "group", "g1", "meeting_security"),
    "user by email": lambda zoom: get_user(zoom, "alice@acme.test"),
    "user by id": lambda zoom: get_user(zoom, "u1"),
    "users": lambda zoom: _listed(iter_users(zoom)),
    "groups": lambda zoom: _listed(iter_groups(zoom)),
    "members": lambda zoom: _listed(iter_group_members(zoom, "g1")),
    "patch": lambda zoom: zoom.request("PATCH", "/users/u1/settings", json={"a": 1}),
}


async def _no_sleep(seconds: float) -> None:
    return None


def _client(answer: Answer, *, to_token: bool) -> ZoomClient:
    def handle(request: httpx2.Request) -> httpx2.Response:
        is_token = request.url.path == "/oauth/token"
        if is_token != to_token:
            if is_token:
                return httpx2.Response(200, json={"access_token": TOKEN, "expires_in": 3600})
            return httpx2.Response(200, json={"id": "u1", "email": "alice@acme.test"})
        return httpx2.Response(answer.status, headers=answer.headers, content=answer.body)

    return ZoomClient(
        Credentials("acct-p", CLIENT_ID, Secret(CLIENT_SECRET)),
        Endpoints("https://api.zoom.test/v2", "https://zoom.test/oauth/token"),
        transport=httpx2.MockTransport(handle),
        retry=RETRIES,
        sleep=_no_sleep,
    )


def _known_secrets(answer: Answer, *, to_token: bool) -> list[str]:
    """What the client knows as secret: its credentials, and the token it was handed (from the
    test's token endpoint, or from the answer under test, even one it refused)."""
    if not to_token:
        return list(SECRETS)
    known = [CLIENT_ID, CLIENT_SECRET, BASIC]
    try:
        drawn = json.loads(answer.body)
    except (ValueError, RecursionError):
        return known
    token = drawn.get("access_token") if isinstance(drawn, dict) else None
    if isinstance(token, str) and len(token) >= 8:  # a shorter one matches ordinary text
        known.append(token)
    return known


async def _run(call: Call, answer: Answer, *, to_token: bool) -> None:
    async with _client(answer, to_token=to_token) as zoom:
        try:
            await asyncio.wait_for(call(zoom), 5.0)
        except ZoomAPIError as error:
            message = str(error)
            assert "\n" not in message, message
            for secret in _known_secrets(answer, to_token=to_token):
                assert secret not in message, message
                assert secret not in repr(error)


HYPOTHESIS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", sorted(CALLS))
@HYPOTHESIS
@given(answer=answers)
def test_any_api_answer_is_a_zoom_api_error_or_data(name: str, answer: Answer) -> None:
    asyncio.run(_run(CALLS[name], answer, to_token=False))


@HYPOTHESIS
@given(answer=answers)
def test_any_token_answer_is_an_auth_error_or_a_token(answer: Answer) -> None:
    asyncio.run(_run(CALLS["settings"], answer, to_token=True))
