"""Server-to-Server OAuth: `POST /oauth/token?grant_type=account_credentials&account_id=...`.

Tokens are opaque random strings that expire after the configured lifetime.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SCOPES = (
    "account:read:admin account:write:admin group:read:admin group:write:admin "
    "user:read:admin user:write:admin"
)

TokenState = Literal["valid", "expired", "invalid"]


@dataclass
class TokenStore:
    clock: Callable[[], float]
    _expiry: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, account_id: str, lifetime: int) -> str:
        token = secrets.token_urlsafe(48)
        self._expiry[token] = (account_id, self.clock() + lifetime)
        return token

    def state(self, token: str) -> tuple[TokenState, str | None]:
        """Whether `token` is valid, and for which account."""
        found = self._expiry.get(token)
        if found is None:
            return "invalid", None
        account_id, expires = found
        if self.clock() >= expires:
            return "expired", account_id
        return "valid", account_id

    def clear(self) -> None:
        self._expiry.clear()


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    account_id: str | None
    client_id: str | None
    client_secret: str | None


def parse_basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)


def oauth_error(status: int, error: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {"reason": reason, "error": error}


@dataclass(frozen=True)
class Expected:
    account_id: str
    client_id: str
    client_secret: str


def _same(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def check_request(request: TokenRequest, expected: Expected) -> tuple[int, dict[str, Any]] | None:
    """The OAuth error answer for a bad request, or None when it may have a token."""
    if request.grant_type != "account_credentials":
        return oauth_error(400, "unsupported_grant_type", "unsupported grant type")
    ok_id = _same(request.client_id, expected.client_id)
    ok_secret = _same(request.client_secret, expected.client_secret)
    if not (ok_id and ok_secret):
        return oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
    if request.account_id != expected.account_id:
        return oauth_error(400, "invalid_request", "Invalid account_id")
    return None


def token_body(token: str, lifetime: int, api_url: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "scope": SCOPES,
        "api_url": api_url,
    }


def request_from(
    query: Mapping[str, str], form: Mapping[str, str], authorization: str | None
) -> TokenRequest:
    client_id, secret = parse_basic(authorization)
    return TokenRequest(
        grant_type=query.get("grant_type") or form.get("grant_type"),
        account_id=query.get("account_id") or form.get("account_id"),
        client_id=client_id,
        client_secret=secret,
    )
