"""A strict structural diff over the managed keys only, and the smallest PATCH body for it.

Strict means Python's `==` is not enough: `True == 1` and `5 == 5.0` are true in Python but are
different values to Zoom, so types must match too. Lists are leaves: compared and sent whole.
Keys that the desired side does not name are never read, so they never show up as changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]


class _Missing:
    """The live side has no value at this path (a GET-less field, a new section)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class LeafChange:
    path: Path
    before: Any
    after: Any


_SCALARS = (bool, int, float, str, type(None))


def strictly_equal(left: Any, right: Any) -> bool:
    """Equal in value and in JSON type, all the way down."""
    if type(left) is not type(right):
        return False
    if isinstance(left, _SCALARS):
        return bool(left == right)
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            strictly_equal(value, right[key]) for key, value in left.items()
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(map(strictly_equal, left, right))
    return bool(left == right)


def lookup(document: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(document, Mapping) or key not in document:
            return MISSING
        document = document[key]
    return document


def diff_managed(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[LeafChange]:
    """The managed leaves whose live value differs, in the desired document's order."""
    changes: list[LeafChange] = []
    _diff_into(desired, current, (), changes)
    return changes


def _diff_into(
    desired: Mapping[str, Any], current: Any, prefix: Path, out: list[LeafChange]
) -> None:
    # One walk over both documents together: no lookup from the root for every leaf.
    for key, after in desired.items():
        before = current.get(key, MISSING) if isinstance(current, Mapping) else MISSING
        if isinstance(after, Mapping):
            _diff_into(after, before, (*prefix, key), out)
        elif not strictly_equal(before, after):
            out.append(LeafChange((*prefix, key), before, after))


def patch_body(changes: list[LeafChange]) -> dict[str, Any]:
    """The smallest nested object that holds every changed leaf."""
    body: dict[str, Any] = {}
    for change in changes:
        node = body
        for key in change.path[:-1]:
            node = node.setdefault(key, {})
        node[change.path[-1]] = change.after
    return body
