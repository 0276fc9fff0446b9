"""A record of every /v2 and /oauth request: what was asked and what status it got.

Entries never hold headers (so never the Authorization header) and never a client secret.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

_SECRET_KEYS = frozenset({"client_secret", "password", "access_token"})


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None  # None: the connection was dropped without an answer

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_body(raw: bytes) -> Any:
    """The body as JSON, or None when it is empty or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def redact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in _SECRET_KEYS}


class Journal:
    """An append-only log (oldest entries fall off past `limit`)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._seq = 0

    def append(
        self,
        *,
        time: str,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        status: int | None,
    ) -> Entry:
        self._seq += 1
        safe_body = redact(body) if isinstance(body, dict) else body
        entry = Entry(self._seq, time, method, path, redact(query), safe_body, status)
        self._entries.append(entry)
        return entry

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self._entries]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
