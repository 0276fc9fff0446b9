"""Zoom's webhook signatures: the URL validation answer and the `x-zm-signature` check.

Zoom signs `v0:{x-zm-request-timestamp}:{raw body}` with HMAC-SHA256 under the app's secret
token and sends `v0=` + the hex digest. The check runs on the raw bytes before anything parses
them, in constant time, and refuses a timestamp more than five minutes from our clock (a
captured delivery replayed later fails here even with its genuine signature).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
TOLERANCE_SECONDS = 300
# Zoom's settings events carry the changed keys only: a few KiB. A body past this is not one.
MAX_BODY_BYTES = 256 * 1024


class SignatureRefused(Exception):
    """Why a delivery is not taken as Zoom's (answered 401); `reason` is safe to log, `kind` is
    `signature` or `stale` (a metric's label)."""

    def __init__(self, reason: str, kind: str = "signature") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def _hmac_hex(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def url_validation_answer(secret: bytes, plain_token: str) -> dict[str, str]:
    """What `endpoint.url_validation` wants back: the token and its HMAC under the secret."""
    return {
        "plainToken": plain_token,
        "encryptedToken": _hmac_hex(secret, plain_token.encode("utf-8")),
    }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `x-zm-signature` value Zoom sends for `body` at `timestamp`."""
    return "v0=" + _hmac_hex(secret, b"v0:" + timestamp.encode("ascii") + b":" + body)


def verify(
    secret: bytes, signature: str | None, timestamp: str | None, body: bytes, now: float
) -> None:
    """Raise SignatureRefused unless `signature` is Zoom's for `body` at a fresh `timestamp`."""
    if not signature or not timestamp:
        raise SignatureRefused(f"no {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureRefused(
            f"{TIMESTAMP_HEADER} is more than {TOLERANCE_SECONDS // 60} minutes from this "
            "machine's clock (a replay, or a clock out of step)",
            "stale",
        )
    expected = sign(secret, timestamp, body)
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureRefused(f"{SIGNATURE_HEADER} does not match the body")
