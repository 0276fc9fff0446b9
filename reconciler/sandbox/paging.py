"""Zoom's paging: `page_size` (default 30, clamped to the maximum), `page_number`, and opaque
`next_page_token`s that carry the listing they belong to and expire after 15 minutes.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.sandbox.responses import ZoomError

TOKEN_LIFETIME = 15 * 60
DEFAULT_PAGE_SIZE = 30
T = TypeVar("T")


def invalid_page_token() -> ZoomError:
    return ZoomError(400, 300, "The next page token is invalid or expired.")


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def encode_token(listing: str, offset: int, issued: float) -> str:
    raw = json.dumps({"l": listing, "o": offset, "t": int(issued)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, listing: str, now: float) -> int:
    """The offset a token points at; raises 400 code 300 if it is foreign, forged or expired."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, issued, owner = int(data["o"]), float(data["t"]), data["l"]
    except (ValueError, KeyError, TypeError):
        raise invalid_page_token() from None
    if owner != listing or offset < 0 or now - issued > TOKEN_LIFETIME:
        raise invalid_page_token()
    return offset


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    page_size: int
    page_number: int
    page_count: int
    total_records: int
    next_page_token: str

    def fields(self) -> dict[str, Any]:
        return {
            "next_page_token": self.next_page_token,
            "page_count": self.page_count,
            "page_number": self.page_number,
            "page_size": self.page_size,
            "total_records": self.total_records,
        }


def paginate(
    items: Sequence[T], query: Mapping[str, str], listing: str, now: float, max_size: int
) -> Page:
    size = min(_positive_int(query.get("page_size"), DEFAULT_PAGE_SIZE), max_size)
    token = query.get("next_page_token")
    if token:
        offset = decode_token(token, listing, now)
    else:
        offset = (_positive_int(query.get("page_number"), 1) - 1) * size
    end = offset + size
    following = encode_token(listing, end, now) if end < len(items) else ""
    return Page(
        items[offset:end],
        size,
        offset // size + 1,
        math.ceil(len(items) / size),
        len(items),
        following,
    )
