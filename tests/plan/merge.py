"""What Zoom makes of a PATCH body, for the diff's property tests: objects merge, the rest is
replaced (arrays whole)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merged(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(current)
    for key, value in body.items():
        existing = result.get(key)
        if isinstance(value, Mapping) and isinstance(existing, Mapping):
            result[key] = merged(existing, value)
        else:
            result[key] = value
    return result
