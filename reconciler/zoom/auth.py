"""Server-to-Server OAuth: one access token per process, shared by every concurrent request."""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass

import httpx2

from reconciler.errors import AuthError, Unavailable
from reconciler.zoom.config import Credentials
from reconciler.zoom.pacer import Clock

# Renew this long before expiry so that no request starts with a token about to lapse.
MAX_RENEW_MARGIN = 300.0
RENEW_MARGIN_SHARE = 0.1
TOKEN_ATTEMPTS = 4


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float


class TokenProvider:
    """Hands out the current token; fetches a new one when it is due or was refused.

    A lock makes concurrent callers wait for one token request instead of each sending its own.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        oauth_url: str,
        credentials: Credentials,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._oauth_url = oauth_url
        self._credentials = credentials
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.requests = 0

    async def token(self) -> str:
        current = self._token
        if current is not None and self._clock() < current.renew_at:
            return current.value
        async with self._lock:
            current = self._token
            if current is None or self._clock() >= current.renew_at:
                current = await self._fetch_with_retries()
                self._token = current
            return current.value

    def invalidate(self, refused: str) -> None:
        """Zoom refused this token: drop it, unless another request already replaced it."""
        if self._token is not None and self._token.value == refused:
            self._token = None

    async def _fetch_with_retries(self) -> _Token:
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                return await self._fetch()
            except (httpx2.TransportError, _TokenServerError):
                if attempt == TOKEN_ATTEMPTS:
                    break
                await asyncio.sleep(0.2 * 2**attempt)
        raise Unavailable(
            f"could not get an access token after {TOKEN_ATTEMPTS} attempts",
            method="POST",
            path=self._oauth_url,
        )

    async def _fetch(self) -> _Token:
        self.requests += 1
        started = self._clock()
        response = await self._http.post(
            self._oauth_url,
            params={
                "grant_type": "account_credentials",
                "account_id": self._credentials.account_id,
            },
            headers={"Authorization": self._basic_authorization()},
        )
        if response.status_code >= 500:
            raise _TokenServerError
        if response.status_code != 200:
            raise AuthError(
                _oauth_refusal(response),
                status=response.status_code,
                method="POST",
                path=self._oauth_url,
            )
        return _parse_token(response, started)

    def _basic_authorization(self) -> str:
        pair = f"{self._credentials.client_id}:{self._credentials.client_secret.reveal()}"
        return "Basic " + base64.b64encode(pair.encode()).decode()


class _TokenServerError(Exception):
    pass


def _oauth_refusal(response: httpx2.Response) -> str:
    try:
        body = response.json()
        reason = body.get("reason") or body.get("error") or "refused"
    except ValueError:
        reason = "refused"
    return (
        f"Zoom refused the Server-to-Server OAuth credentials ({reason}); "
        "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
    )


def _parse_token(response: httpx2.Response, started: float) -> _Token:
    body = response.json()
    lifetime = float(body.get("expires_in", 3600))
    margin = min(MAX_RENEW_MARGIN, lifetime * RENEW_MARGIN_SHARE)
    return _Token(value=str(body["access_token"]), renew_at=started + lifetime - margin)
