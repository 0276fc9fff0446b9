"""Zoom's event notifications, built and signed as Zoom builds and signs them.

Shapes follow the typed event definitions Zoom publishes with its Node SDK (`@zoom/rivet`,
`users.d.ts` and `accounts.d.ts`): `{"event", "event_ts", "payload": {"account_id", "operator",
"operator_id", "object": {"id", "settings"}, "old_object": {"id", "settings"}, "time_stamp"}}`,
where `object.settings` holds the keys the write set (nested as in the GET document) and
`old_object.settings` what GET showed for them before; membership events carry
`object: {"id": group, "members": [{"id", "email"}]}`. `event_ts` and `time_stamp` are epoch
milliseconds. Zoom's body has no event id: a receiver tells deliveries apart by the
`x-zm-trackingid` header, which stays the same across the retries of one event.

Signing (Zoom's "Verify webhook events"): `x-zm-request-timestamp` is epoch seconds and
`x-zm-signature` is `v0=` + hex HMAC-SHA256(secret, f"v0:{timestamp}:{body}"). `@zoom/rivet`
checks that over `JSON.stringify(JSON.parse(body))`, so the body is sent as exactly what
JSON.stringify writes: compact, UTF-8, no ASCII escaping, integral floats as integers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from reconciler.sandbox.responses import ZoomError
from reconciler.sandbox.shapes import Flat, Path, unflatten
from reconciler.sandbox.tenant import Tenant

OPERATOR_HEADER = "x-sandbox-operator"
VALIDATION_EVENT = "endpoint.url_validation"
MEMBER_ADDED, MEMBER_DELETED = "group.member_added", "group.member_deleted"

SettingsLevel = Literal["user", "group", "account"]

SETTINGS_EVENTS: dict[tuple[SettingsLevel, bool], str] = {
    ("user", False): "user.settings_updated",
    ("group", False): "group.settings_updated",
    ("account", False): "account.settings_updated",
    ("group", True): "group.lock_settings_updated",
    ("account", True): "account.lock_settings_updated",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_MAX_EMAIL = 128
_EXACT_IN_A_DOUBLE = 2**53
_JS_EXPONENT_FROM = 1e21
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_OWNER, _ADMIN = "0", "1"


@dataclass(frozen=True)
class Operator:
    """Who made a change, as Zoom names them: an email and a user id."""

    email: str
    id: str


def stable_id(kind: str, key: str) -> str:
    """A 22-character id shaped like Zoom's, the same for the same key in every run."""
    digest = hashlib.sha256(f"{kind}:{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest)[:22].decode()


def operator_for(tenant: Tenant, header: str | None) -> Operator:
    """The operator of a write: the `X-Sandbox-Operator` email, else the account's owner (the
    admin whose Server-to-Server app the sandbox emulates). Raises ZoomError 400 on a bad one."""
    if header is None:
        return _default_operator(tenant)
    email = header.strip()
    if len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise ZoomError(
            400,
            300,
            "Invalid X-Sandbox-Operator header: expected one email address "
            f"(at most {_MAX_EMAIL} characters), like intruder@example.test.",
        )
    user = tenant.user(email)
    if user is not None:
        return Operator(user.email, user.id)
    return Operator(email, stable_id("operator", email.lower()))


def _default_operator(tenant: Tenant) -> Operator:
    for role in (_OWNER, _ADMIN):
        user = next((u for u in tenant.users if u.role_id == role), None)
        if user is not None:
            return Operator(user.email, user.id)
    email = f"owner@{tenant.account.id}.sandbox.test"
    return Operator(email, stable_id("operator", email))


def value_at(doc: Any, path: Path) -> tuple[bool, Any]:
    """(True, value) at `path` of a nested document, or (False, None) when it is not there."""
    node = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def settings_event(
    level: SettingsLevel,
    *,
    locks: bool,
    account_id: str,
    operator: Operator,
    object_id: str,
    changed: Flat,
    previous: Flat,
    at_ms: int,
) -> dict[str, Any]:
    """One `*.settings_updated` or `*.lock_settings_updated` event."""
    payload = {
        "account_id": account_id,
        "operator": operator.email,
        "operator_id": operator.id,
        "object": {"id": object_id, "settings": unflatten(changed)},
        "old_object": {"id": object_id, "settings": unflatten(previous)},
        "time_stamp": at_ms,
    }
    return {"event": SETTINGS_EVENTS[(level, locks)], "event_ts": at_ms, "payload": payload}


def members_event(
    name: str,
    *,
    account_id: str,
    operator: Operator,
    group_id: str,
    members: list[tuple[str, str]],
    at_ms: int,
) -> dict[str, Any]:
    """`group.member_added` or `group.member_deleted`: `members` are (id, email) pairs."""
    payload = {
        "account_id": account_id,
        "operator": operator.email,
        "operator_id": operator.id,
        "time_stamp": at_ms,
        "object": {"id": group_id, "members": [{"id": i, "email": e} for i, e in members]},
    }
    return {"event": name, "event_ts": at_ms, "payload": payload}


def url_validation_event(plain_token: str, at_ms: int) -> dict[str, Any]:
    """The challenge Zoom sends when an endpoint URL is registered (key order as Zoom's docs)."""
    return {"payload": {"plainToken": plain_token}, "event_ts": at_ms, "event": VALIDATION_EVENT}


def body_bytes(event: Any) -> bytes:
    """The bytes to send: what JSON.stringify would write for the same document."""
    text = json.dumps(_as_javascript(event), separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate (a client may send "\\ud800") is not UTF-8; JSON.stringify escapes it.
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text).encode("utf-8")


def _as_javascript(value: Any) -> Any:
    """`value` with its numbers as JavaScript holds and prints them: 1.0 is written 1, and an
    integer past 2**53 becomes the nearest double (2**60 + 1 is written 1152921504606847000).
    Zoom's settings have no fractional numbers; those would print alike between 1e-4 and 1e21."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > _EXACT_IN_A_DOUBLE:
        value = float(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        # Below 1e21 JavaScript writes the shortest digits that read back, padded with zeros.
        return int(Decimal(repr(value))) if abs(value) < _JS_EXPONENT_FROM else value
    if isinstance(value, dict):
        return {key: _as_javascript(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_javascript(item) for item in value]
    return value


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Zoom's `x-zm-signature` for `body` sent at `timestamp` (epoch seconds)."""
    message = b"v0:%d:" % timestamp + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The `encryptedToken` a receiver must answer to a URL validation challenge."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
