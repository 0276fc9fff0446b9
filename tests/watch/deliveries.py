"""Zoom-shaped deliveries signed as Zoom signs them, for the receiver's tests (until the sandbox
emits its own, and for the cases it never sends: forged, stale, oversized, malformed)."""

from __future__ import annotations

import json
import time
from typing import Any

from reconciler.watch.signature import sign

SECRET = b"webhook-secret-for-tests"
ACCOUNT = "acct-test"


def settings_event(
    name: str = "user.settings_updated",
    target_id: str = "u1",
    settings: dict[str, Any] | None = None,
    operator: str = "intruder@example.test",
    event_ts: int = 1_765_000_000_000,
    account_id: str = ACCOUNT,
) -> dict[str, Any]:
    return {
        "event": name,
        "event_ts": event_ts,
        "payload": {
            "account_id": account_id,
            "operator": operator,
            "operator_id": "op-1",
            "object": {
                "id": target_id,
                "settings": {"in_meeting": {"chat": True}} if settings is None else settings,
            },
            "old_object": {"id": target_id, "settings": {"in_meeting": {"chat": False}}},
        },
    }


def compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def signed_headers(
    body: bytes, *, secret: bytes = SECRET, at: float | None = None, tracking: str | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
    }
    if tracking:
        headers["x-zm-trackingid"] = tracking
    return headers
