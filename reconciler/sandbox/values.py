"""Plausible setting values drawn from a leaf's schema (enums, booleans, bounded ints, strings)."""

from __future__ import annotations

import random
from typing import Any

from reconciler.sandbox.shapes import Flat, Path, Schema, Shape

_CAPACITIES = (100, 300, 500, 1000)
_STRINGS = {
    "ip_addresses_or_ranges": "10.0.0.0/8",
    "whitelisted_domains_for_waiting_room": "example.test",
    "domains": "example.test",
    "enforce_login_domains": "example.test",
    "value": "US",
    "selection_values": "US",
}


def default_for(schema: Schema) -> Any:
    """The plainest valid value: false, the first enum member, 0, "" or an empty container."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    plain: dict[Any, Any] = {"boolean": False, "integer": 0, "number": 0, "string": ""}
    if kind in plain:
        return max(plain[kind], schema.get("minimum", 0)) if kind == "integer" else plain[kind]
    return [] if kind == "array" else {}


def value_for(path: Path, schema: Schema, rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "number"):
        return _integer(path[-1], schema, rng)
    if kind == "string":
        return _string(path[-1], schema, rng)
    if kind == "array":
        return _array(schema, rng)
    return default_for(schema)


def _integer(name: str, schema: Schema, rng: random.Random) -> int:
    low = int(schema.get("minimum", 0))
    high = int(schema.get("maximum", low + 10))
    if "capacity" in name:
        candidates = [c for c in _CAPACITIES if low <= c <= high] or [low]
        return rng.choice(candidates)
    if name.endswith("length"):
        return max(low, min(high, rng.randint(6, 10)))
    if name.endswith("days"):
        return max(low, min(high, rng.choice((30, 60, 90))))
    return rng.randint(low, high)


def _string(name: str, schema: Schema, rng: random.Random) -> str:
    if "password" in name:
        text = "".join(rng.choice("0123456789") for _ in range(6))
    else:
        text = _STRINGS.get(name, "")
    return text[: int(schema.get("maxLength", len(text)))]


def _array(schema: Schema, rng: random.Random) -> list[Any]:
    items = schema.get("items") or {}
    if "enum" not in items:
        return []
    limit = min(len(items["enum"]), int(schema.get("maxItems", 3)), 3)
    return rng.sample(list(items["enum"]), rng.randint(0, limit))


def fill(shape: Shape, rng: random.Random, skip: frozenset[Path] = frozenset()) -> Flat:
    """A value for every leaf of `shape` not in `skip`, in schema order."""
    return {
        path: value_for(path, schema, rng)
        for path, schema in shape.leaves.items()
        if path not in skip
    }
