"""Scripted Zoom answers at the HTTP boundary (httpx2.MockTransport) for client unit tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from reconciler.zoom import Credentials, Endpoints, RetryPolicy, Secret, ZoomClient
from reconciler.zoom.answers import Shape, plain

API = "https://api.zoom.test/v2"
OAUTH = "https://zoom.test/oauth/token"
SECRET = "s3cr3t-VALUE-never-shown"
FAST_RETRIES = RetryPolicy(
    attempts=4,
    total_seconds=5,
    wait_initial=0.001,
    wait_max=0.002,
    wait_jitter=0.0,
    max_throttled=5,
)

Handler = Callable[[httpx2.Request], httpx2.Response]


@dataclass
class ScriptedZoom:
    """Answers token requests itself and passes API requests to `api`."""

    api: Handler
    token_lifetime: int = 3600
    tokens_issued: list[str] = field(default_factory=list)
    api_requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth/token":
            token = f"token-{len(self.tokens_issued) + 1}"
            self.tokens_issued.append(token)
            return httpx2.Response(
                200,
                json={
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": self.token_lifetime,
                },
            )
        self.api_requests.append(request)
        return self.api(request)


def zoom_error(status: int, code: int, message: str, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, json={"code": code, "message": message}, headers=headers)


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(account_id="acct-1", client_id="client-1", client_secret=Secret(SECRET))


def make_client(zoom: ScriptedZoom, credentials: Credentials, **options: object) -> ZoomClient:
    options.setdefault("retry", FAST_RETRIES)
    return ZoomClient(
        credentials,
        Endpoints(api_url=API, oauth_url=OAUTH),
        transport=httpx2.MockTransport(zoom),
        **options,  # type: ignore[arg-type]
    )


async def get_json(client: ZoomClient, path: str) -> dict[str, Any]:
    """A GET whose answer must be a JSON object (any object: the tests' Zoom answers `{}`)."""
    return plain(await client.get_answer(path, None, Shape))
