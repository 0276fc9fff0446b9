"""Where Zoom's shape of one setting differs between levels, and whether a value fits a level.

Zoom's specs type a few settings differently per level (e.g. `tsp.call_out_countries` holds
strings for the account and objects for a user). An inherited value that does not fit the lower
level's shape is not passed down; the lower level keeps its own value.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from reconciler.sandbox.shapes import Path, lock_shape, settings_shape

_HIGHER = {"account": (), "group": ("account",), "user": ("account", "group")}


@cache
def divergent(level: str, family: str) -> frozenset[Path]:
    """Leaf paths whose schema at `level` differs from the schema at a level above."""
    own = settings_shape(level, family).leaves
    paths: set[Path] = set()
    for higher in _HIGHER[level]:
        theirs = settings_shape(higher, family).leaves
        paths |= {path for path, schema in own.items() if path in theirs and theirs[path] != schema}
    return frozenset(paths)


@cache
def _validator(level: str, family: str, path: Path) -> Any:
    schema = settings_shape(level, family).leaves[path]
    return jsonschema.validators.validator_for(schema)(schema)


def fits(level: str, family: str, path: Path, value: Any) -> bool:
    """Whether `value`, set at a higher level, is valid for `path` at `level`."""
    if path not in divergent(level, family):
        return True
    return bool(_validator(level, family, path).is_valid(value))


def _shape(kind: str, level: str, family: str, direction: str) -> Any:
    if kind == "lock":
        return lock_shape(level, family, direction)
    return settings_shape(level, family, direction)


@cache
def _write_read_differ(kind: str, level: str, family: str) -> frozenset[Path]:
    read, write = _shape(kind, level, family, "get"), _shape(kind, level, family, "patch")
    return frozenset(
        p for p, s in read.leaves.items() if p in write.leaves and write.leaves[p] != s
    )


@cache
def _read_validator(kind: str, level: str, family: str, path: Path) -> Any:
    schema = _shape(kind, level, family, "get").leaves[path]
    return jsonschema.validators.validator_for(schema)(schema)


def readable(kind: str, level: str, family: str, path: Path, value: Any) -> bool:
    """Whether a PATCHed value can be read back: the GET shape is what a level stores.

    Zoom types a few leaves differently for PATCH and GET (e.g. the `encryption_type` account
    lock is a string in PATCH, a boolean in GET); such writes are accepted and ignored.
    """
    if path not in _write_read_differ(kind, level, family):
        return True
    return bool(_read_validator(kind, level, family, path).is_valid(value))
