"""Server-to-Server OAuth: one access token per process, shared by every concurrent request.

The token endpoint's answer is read like any other (capped, within a deadline) and parsed as a
`TokenAnswer`: an HTML page, an empty body, a missing or non-ASCII token or a lifetime beyond a
day is a one-line `AuthError`. Whatever the server wrote is quoted only through the `Redactor`,
which knows the client id, the secret, their Basic encoding and every token issued.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass

import httpx2

from reconciler.errors import AuthError, Unavailable
from reconciler.zoom.answers import (
    DEADLINE,
    MAX_BODY,
    Redactor,
    TokenAnswer,
    TooLarge,
    TooSlow,
    Unfit,
    json_body,
    read_answer,
    redirect_target,
    size_text,
    unfit_message,
    validated,
)
from reconciler.zoom.config import Credentials
from reconciler.zoom.pacer import Clock, Sleep

# Renew this long before expiry so that no request starts with a token about to lapse.
MAX_RENEW_MARGIN = 300.0
RENEW_MARGIN_SHARE = 0.1
TOKEN_ATTEMPTS = 4
# How much of a refusal's reason a message quotes.
REASON_CHARS = 120
_CHECK = "check ZOOM_OAUTH_URL"


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
        sleep: Sleep = asyncio.sleep,
        max_body: int = MAX_BODY,
        deadline: float = DEADLINE,
    ) -> None:
        self._http = http
        self._oauth_url = oauth_url
        self._credentials = credentials
        self._clock, self._sleep = clock, sleep
        self._max_body, self._deadline = max_body, deadline
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.requests = 0
        secret = credentials.client_secret.reveal()
        self.redactor = Redactor(
            [credentials.client_id, secret, _basic(credentials.client_id, secret)]
        )

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
        why = ""
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                return await self._fetch()
            except (httpx2.TransportError, _TokenServerError, TooSlow) as exc:
                why = _failure(exc)
                if attempt == TOKEN_ATTEMPTS:
                    break
                await self._sleep(0.2 * 2**attempt)
        raise Unavailable(
            f"could not get an access token after {TOKEN_ATTEMPTS} attempts ({why}); "
            "check the network and ZOOM_OAUTH_URL, then run again",
            method="POST",
            path=self._oauth_url,
        )

    async def _fetch(self) -> _Token:
        self.requests += 1
        started = self._clock()
        response = await self._exchange()
        status = response.status_code
        if status >= 500:
            raise _TokenServerError(status)
        if 300 <= status < 400:
            raise self._error(_redirected(response, self.redactor), status)
        if not 200 <= status < 300:
            raise self._error(_oauth_refusal(response, self.redactor), status)
        return self._parse(response, started)

    async def _exchange(self) -> httpx2.Response:
        request = self._http.build_request(
            "POST",
            self._oauth_url,
            params={
                "grant_type": "account_credentials",
                "account_id": self._credentials.account_id,
            },
            headers={"Authorization": "Basic " + self._basic()},
        )
        try:
            return await read_answer(
                self._http, request, max_body=self._max_body, deadline=self._deadline
            )
        except TooLarge as exc:
            message = f"Zoom's token endpoint answered more than {size_text(exc.limit)}; {_CHECK}"
            raise self._error(message, exc.response.status_code) from None

    def _parse(self, response: httpx2.Response, started: float) -> _Token:
        redact = self.redactor
        try:
            body = json_body(response, redact)
            if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                redact = redact.with_secret(body["access_token"])  # even a token refused below
            answer = validated(body, TokenAnswer, redact)
        except Unfit as unfit:
            message = unfit_message(response, TokenAnswer.what, unfit.detail, redact, status=False)
            raise self._error(f"{message}; {_CHECK}", response.status_code) from None
        self.redactor.add(answer.access_token)
        lifetime = float(answer.expires_in)
        margin = min(MAX_RENEW_MARGIN, lifetime * RENEW_MARGIN_SHARE)
        return _Token(value=answer.access_token, renew_at=started + lifetime - margin)

    def _error(self, message: str, status: int) -> AuthError:
        return AuthError(message, status=status, method="POST", path=self._oauth_url)

    def _basic(self) -> str:
        return _basic(self._credentials.client_id, self._credentials.client_secret.reveal())


def _basic(client_id: str, secret: str) -> str:
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class _TokenServerError(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP {status}")


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _TokenServerError | TooSlow) else type(exc).__name__


def _oauth_refusal(response: httpx2.Response, redact: Redactor) -> str:
    reason = "refused"
    try:
        body = json_body(response, redact)
    except Unfit:
        body = None
    if isinstance(body, dict):
        found = body.get("reason") or body.get("error")
        if isinstance(found, str) and found.strip():
            reason = redact.shown(found, REASON_CHARS)
    return (
        f"Zoom refused the Server-to-Server OAuth credentials ({reason}); "
        "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
    )


def _redirected(response: httpx2.Response, redact: Redactor) -> str:
    return (
        f"Zoom's token endpoint answered with a redirect to {redirect_target(response, redact)}, "
        f"which this client never follows; {_CHECK}"
    )
